import Crypto
import Foundation
import Hummingbird
import HummingbirdBcrypt
import JWTKit
import Logging
import NIOPosix
import Shared

/// Single sign-on with OpenID Connect, per tenant: the operator configures an issuer, client id and secret
/// (`/api/admin/tenants/{id}/oidc`); `GET /api/auth/oidc/{tenant}/authorize` sends the browser to the issuer with the
/// authorization-code flow, PKCE (S256), `state` and `nonce`; `GET /api/auth/oidc/callback` exchanges the code, validates
/// the ID token, maps its email to a user of that tenant (or creates a member for an allowed domain) and answers with
/// a redirect to the chat page carrying Netra's own token in the URL fragment (never sent to a server or logged).
struct OIDCController: Sendable {
    let identities: IdentityStore
    let tokens: TokenService
    let client: OIDCClient
    let redis: RedisClient
    let keys: RedisKeys
    /// The gateway's external base URL; the callback is `<base>/api/auth/oidc/callback`.
    let publicURL: String
    let bcryptCost: UInt8
    /// Rate limits for the unauthenticated authorize route, per client address.
    let access: AccessGuard
    let trustedProxies: TrustedProxies
    /// How long a sign-in may take between the redirect to the issuer and the callback.
    static let loginLifetime = 600

    var redirectURI: String { publicURL + "/api/auth/oidc/callback" }

    /// What the callback needs of the sign-in it belongs to. `browser` is the SHA-256 of the random value in the cookie
    /// set by `authorize`: a callback from another browser (a link an attacker sends, carrying a code of the attacker's
    /// own sign-in) lacks the cookie and is refused, so nobody can be signed in to someone else's account.
    struct PendingLogin: Codable {
        let tenant: TenantID
        let nonce: String
        let verifier: String
        let browser: String
    }

    /// The cookie binding a sign-in to the browser that started it; only the sign-in routes receive it.
    static let cookieName = "netra_oidc"
    static let cookiePath = "/api/auth/oidc"

    struct SettingsBody: Decodable {
        let issuer: String
        let clientID: String
        let clientSecret: String
        let allowedDomains: [String]?
        enum CodingKeys: String, CodingKey {
            case issuer
            case clientID = "client_id"
            case clientSecret = "client_secret"
            case allowedDomains = "allowed_domains"
        }
    }

    /// The settings as the admin API shows them: never the secret.
    struct SettingsView: Encodable {
        let tenantID: TenantID
        let issuer: String
        let clientID: String
        let allowedDomains: [String]
        let redirectURI: String
        let updatedAt: Date?
        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id"
            case issuer
            case clientID = "client_id"
            case allowedDomains = "allowed_domains"
            case redirectURI = "redirect_uri"
            case updatedAt = "updated_at"
        }
    }

    // MARK: Routes

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get("/{tenant_id}/authorize") { request, context in
            try await authorize(request, context: context)
        }
        group.get("/callback") { request, context in
            try await callback(request, context: context)
        }
    }

    func addAdminRoutes(to group: RouterGroup<GatewayContext>) {
        group.put("/tenants/{tenant_id}/oidc") { request, context in
            let tenant = try context.tenantIDParameter()
            let body = try await request.decodeJSON(SettingsBody.self, context: context)
            let settings = try Self.validate(body)
            guard try await identities.setOIDC(tenant, settings, logger: context.logger) else {
                throw NetraError.tenantNotFound
            }
            context.logger.info("Single sign-on configured", metadata: [LogKey.tenantID: "\(tenant)", "issuer": "\(settings.issuer)"])
            return try jsonResponse(try await view(tenant, logger: context.logger))
        }
        group.get("/tenants/{tenant_id}/oidc") { _, context in
            try jsonResponse(try await view(try context.tenantIDParameter(), logger: context.logger))
        }
        group.delete("/tenants/{tenant_id}/oidc") { _, context in
            guard try await identities.deleteOIDC(try context.tenantIDParameter(), logger: context.logger) else {
                throw NetraError.singleSignOnNotConfigured
            }
            return Response(status: .noContent)
        }
    }

    // MARK: The flow

    private func authorize(_ request: Request, context: GatewayContext) async throws -> Response {
        let tenant = try context.tenantIDParameter()
        // Unauthenticated and it writes to Redis: limited per client address.
        let address = trustedProxies.client(of: request, context: context)
        try await access.admitSignIn(address: address, logger: context.logger)
        guard let settings = try await identities.oidc(tenant, logger: context.logger) else {
            throw NetraError.singleSignOnNotConfigured
        }
        let discovery = try await issuerCall { try await client.discovery(issuer: settings.issuer) }
        let state = Self.randomToken()
        let nonce = Self.randomToken()
        let verifier = Self.randomToken()
        let challenge = Data(SHA256.hash(data: Data(verifier.utf8))).base64URLEncoded
        let browser = Self.randomToken()
        let pending = try JSONText.encode(PendingLogin(tenant: tenant, nonce: nonce, verifier: verifier, browser: Self.digest(browser)))
        _ = try await redis.send([
            "SET", RedisArgument(keys.oidcLogin(state)), RedisArgument(pending), "EX", RedisArgument(Self.loginLifetime),
        ])
        var query = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI), ("scope", "openid email profile"),
            ("state", state), ("nonce", nonce), ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        if let hint = request.uri.queryParameters.get("login_hint"), !hint.isEmpty, hint.count <= 320 {
            query.append(("login_hint", String(hint)))
        }
        let separator = discovery.authorizationEndpoint.contains("?") ? "&" : "?"
        let location = discovery.authorizationEndpoint + separator + query.map { "\($0)=\(OIDCClient.formEncode($1))" }.joined(separator: "&")
        return Response(
            status: .found, headers: [.location: location, .cacheControl: "no-store", .setCookie: cookie(browser, maxAge: Self.loginLifetime)]
        )
    }

    /// `SameSite=Lax`: the issuer's redirect back is a top-level navigation, which carries it; `Secure` when the
    /// gateway is reached over https.
    private func cookie(_ value: String, maxAge: Int) -> String {
        "\(Self.cookieName)=\(value); Path=\(Self.cookiePath); Max-Age=\(maxAge); HttpOnly; SameSite=Lax"
            + (publicURL.hasPrefix("https:") ? "; Secure" : "")
    }

    /// The sign-in cookie's value in the request, if any.
    private static func browserCookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, parts[0] == cookieName { return parts[1] }
            }
        }
        return nil
    }

    private static func digest(_ value: String) -> String { Data(SHA256.hash(data: Data(value.utf8))).base64URLEncoded }

    private func callback(_ request: Request, context: GatewayContext) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = query.get("error") {
            throw NetraError(.oidcDenied, .badRequest, "the issuer did not sign the user in: \(String(error.prefix(200)))")
        }
        guard let state = query.get("state"), !state.isEmpty, state.count <= 128, let code = query.get("code"), !code.isEmpty,
            code.count <= 4096
        else { throw NetraError(.invalidState, .badRequest, "the callback needs code and state") }
        // One use: a replayed callback (same state, same code) finds nothing.
        let stored = try await redis.send(["GETDEL", RedisArgument(keys.oidcLogin(String(state)))])
        guard let text = stored.string, let pending = try? JSONDecoder().decode(PendingLogin.self, from: Data(text.utf8)) else {
            throw NetraError(.invalidState, .badRequest, "unknown, expired or already used sign-in state")
        }
        guard let browser = Self.browserCookie(request), OIDCClient.constantTimeEquals(Self.digest(browser), pending.browser) else {
            context.logger.warning("Single sign-on callback from a browser that did not start the sign-in", metadata: [LogKey.tenantID: "\(pending.tenant)"])
            throw NetraError(.invalidState, .badRequest, "this sign-in was started in another browser; start it again here")
        }
        let logger = context.logger.with(LogKey.tenantID, "\(pending.tenant)")
        guard let settings = try await identities.oidc(pending.tenant, logger: logger) else {
            throw NetraError.singleSignOnNotConfigured
        }
        let idToken = try await issuerCall {
            try await client.exchange(code: String(code), verifier: pending.verifier, redirectURI: redirectURI, settings: settings)
        }
        let claims = try await issuerCall { try await client.validate(idToken, settings: settings, nonce: pending.nonce) }
        guard let email = claims.email?.lowercased(), !email.isEmpty else {
            throw NetraError(.invalidIDToken, .unauthorized, "the ID token carries no email (ask for the email scope)")
        }
        // Accounts are matched by email, so only an address the issuer vouches for will do (a missing claim is no).
        guard claims.emailVerified?.value == true else {
            throw NetraError(.emailNotAllowed, .forbidden, "the issuer has not verified this email address")
        }
        let user = try await user(email: email, name: claims.name, tenant: pending.tenant, settings: settings, logger: logger)
        let (token, expiresIn) = try await tokens.issue(for: user)
        logger.info("Signed in with single sign-on", metadata: ["user_id": "\(user.id)"])
        let fragment = "access_token=\(token)&token_type=bearer&expires_in=\(expiresIn)"
        return Response(
            status: .seeOther, headers: [.location: "/#" + fragment, .cacheControl: "no-store", .setCookie: cookie("", maxAge: 0)]
        )
    }

    /// The tenant's user with this email, or a new member when its domain is allowed.
    private func user(email: String, name: String?, tenant: TenantID, settings: OIDCSettings, logger: Logger) async throws -> IdentityStore.User {
        let refused = NetraError(.emailNotAllowed, .forbidden, "this email may not sign in to this tenant")
        if let user = try await identities.user(email: email, logger: logger) {
            guard user.tenantID == tenant else { throw refused }
            return user
        }
        let domain = email.split(separator: "@").last.map(String.init) ?? ""
        guard settings.allowedDomains.contains(domain) else { throw refused }
        // The member signs in through the issuer; a random password nobody knows keeps the password login closed.
        let password = Self.randomToken()
        let cost = bcryptCost
        let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
        let displayName = (name?.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0.isEmpty ? nil : String($0.prefix(200)) } ?? email
        do {
            _ = try await identities.createUser(tenant: tenant, name: displayName, email: email, passwordHash: hash, role: "member", logger: logger)
        } catch is IdentityStore.EmailTaken {
            // Created by a concurrent sign-in of the same person, or taken by another tenant meanwhile.
        }
        guard let user = try await identities.user(email: email, logger: logger), user.tenantID == tenant else { throw refused }
        logger.info("Created a member on first single sign-on", metadata: ["user_id": "\(user.id)"])
        return user
    }

    /// Runs a call to the issuer, turning its failures into API errors.
    private func issuerCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as OIDCFailure {
            switch failure.kind {
            case .unreachable: throw NetraError(.oidcUnavailable, .badGateway, failure.description)
            case .refused: throw NetraError(.oidcCodeRejected, .badRequest, failure.description)
            case .invalidToken: throw NetraError(.invalidIDToken, .unauthorized, failure.description)
            }
        }
    }

    // MARK: Helpers

    private func view(_ tenant: TenantID, logger: Logger) async throws -> SettingsView {
        guard let settings = try await identities.oidc(tenant, logger: logger) else {
            throw NetraError.singleSignOnNotConfigured
        }
        return SettingsView(
            tenantID: tenant, issuer: settings.issuer, clientID: settings.clientID, allowedDomains: settings.allowedDomains,
            redirectURI: redirectURI, updatedAt: settings.updatedAt
        )
    }

    /// 32 random bytes, base64url: for state, nonce and the PKCE verifier (43 characters, as RFC 7636 allows).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64URLEncoded
    }

    /// Checks the admin's settings: an https issuer (http only on loopback, for development), non-empty client
    /// credentials, and plain lower-case domain names.
    static func validate(_ body: SettingsBody) throws -> OIDCSettings {
        guard let url = URL(string: body.issuer), let scheme = url.scheme, let host = url.host, url.query == nil, url.fragment == nil,
            scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
        else { throw NetraError.invalid("issuer must be an https URL (http only for 127.0.0.1 or localhost) without query or fragment") }
        guard (1...512).contains(body.clientID.count) else { throw NetraError.invalid("client_id must be 1 to 512 characters") }
        guard (1...1024).contains(body.clientSecret.count) else { throw NetraError.invalid("client_secret must be 1 to 1024 characters") }
        let domains = (body.allowedDomains ?? []).map { $0.lowercased() }
        let label = /[a-z0-9]([a-z0-9-]*[a-z0-9])?/
        guard domains.count <= 100, domains.allSatisfy({ domain in
            domain.count <= 253 && domain.contains(".") && domain.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { $0.wholeMatch(of: label) != nil }
        }) else { throw NetraError.invalid("allowed_domains must be up to 100 domain names such as example.com") }
        return OIDCSettings(issuer: body.issuer, clientID: body.clientID, clientSecret: body.clientSecret, allowedDomains: domains)
    }
}
