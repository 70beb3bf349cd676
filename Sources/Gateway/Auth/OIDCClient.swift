import AsyncHTTPClient
import Crypto
import Foundation
import JWTKit
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Shared

/// The claims Netra reads from an OpenID Connect ID token.
struct IDTokenClaims: JWTIdentityToken {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var nonce: String?
    var email: String?
    var emailVerified: BoolClaim?
    var name: String?

    var audience: AudienceClaim { aud }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nonce, email, name
        case emailVerified = "email_verified"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Why a sign-in with an issuer failed, in words a user or operator can act on.
struct OIDCFailure: Error, CustomStringConvertible {
    enum Kind { case unreachable, refused, invalidToken }
    let kind: Kind
    let description: String
}

/// Talks to OpenID Connect issuers: discovery documents and key sets, cached per issuer (a token signed with a key
/// the cache does not know refreshes the key set once, which is how key rotation shows), the authorization-code
/// exchange with PKCE, and ID token validation with jwt-kit.
actor OIDCClient {
    /// The parts of a discovery document the code flow needs.
    struct Discovery: Decodable, Sendable {
        let issuer: String
        let authorizationEndpoint: String
        let tokenEndpoint: String
        let jwksURI: String
        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
        }
    }

    private struct Keys {
        let collection: JWTKeyCollection
        let ids: Set<String>
        let fetchedAt: ContinuousClock.Instant
    }

    private let httpClient: HTTPClient
    /// How long a discovery document is trusted before it is fetched again.
    private let discoveryLifetime: Duration
    private let clock = ContinuousClock()
    private var discoveries: [String: (document: Discovery, fetchedAt: ContinuousClock.Instant)] = [:]
    private var keys: [String: Keys] = [:]

    init(httpClient: HTTPClient = .shared, discoveryLifetime: Duration = .seconds(3600)) {
        self.httpClient = httpClient
        self.discoveryLifetime = discoveryLifetime
    }

    /// The issuer's discovery document (cached); its `issuer` must be the configured one (OpenID Connect Discovery §4.3).
    func discovery(issuer: String) async throws -> Discovery {
        if let cached = discoveries[issuer], clock.now - cached.fetchedAt < discoveryLifetime { return cached.document }
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let document = try await fetch(Discovery.self, from: base + "/.well-known/openid-configuration", what: "discovery document")
        guard document.issuer == issuer else {
            throw OIDCFailure(kind: .refused, description: "the discovery document names issuer \(document.issuer), not \(issuer)")
        }
        discoveries[issuer] = (document, clock.now)
        return document
    }

    /// Exchanges an authorization code (with its PKCE verifier) for the ID token, authenticating as the client.
    func exchange(code: String, verifier: String, redirectURI: String, settings: OIDCSettings) async throws -> String {
        let endpoint = try await discovery(issuer: settings.issuer).tokenEndpoint
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        // client_secret_basic: both parts form-encoded first (RFC 6749 §2.3.1).
        let credentials = Self.formEncode(settings.clientID) + ":" + Self.formEncode(settings.clientSecret)
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        let form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier),
            ("client_id", settings.clientID),
        ]
        request.body = .bytes(ByteBuffer(string: form.map { "\($0)=\(Self.formEncode($1))" }.joined(separator: "&")))
        let (status, body) = try await send(request, what: "token endpoint")
        struct TokenResponse: Decodable {
            let idToken: String?
            let error: String?
            let errorDescription: String?
            enum CodingKeys: String, CodingKey {
                case idToken = "id_token"
                case error
                case errorDescription = "error_description"
            }
        }
        let answer = try? JSONDecoder().decode(TokenResponse.self, from: body)
        guard (200..<300).contains(status) else {
            let reason = [answer?.error, answer?.errorDescription].compactMap { $0 }.joined(separator: ": ")
            throw OIDCFailure(kind: .refused, description: "the issuer refused the code (HTTP \(status)\(reason.isEmpty ? "" : ", \(reason)"))")
        }
        guard let token = answer?.idToken else { throw OIDCFailure(kind: .refused, description: "the token response has no id_token") }
        return token
    }

    /// Validates an ID token: signature by a key of the issuer's set, issuer, audience (the client id), expiry and nonce.
    func validate(_ token: String, settings: OIDCSettings, nonce: String) async throws -> IDTokenClaims {
        let keyID = Self.keyID(of: token)
        var current = try await keySet(issuer: settings.issuer, refresh: false)
        // A key the cached set lacks: the issuer rotated its keys. (The token came straight from the issuer's token
        // endpoint, not from the browser, so a stranger cannot make Netra refetch at will.)
        if let keyID, !current.ids.contains(keyID) {
            current = try await keySet(issuer: settings.issuer, refresh: true)
        }
        let claims: IDTokenClaims
        do {
            claims = try await current.collection.verify(token, as: IDTokenClaims.self, expectedAudience: settings.clientID)
        } catch {
            throw OIDCFailure(kind: .invalidToken, description: "the ID token is not valid: \(Self.reason(error))")
        }
        guard claims.iss.value == settings.issuer else {
            throw OIDCFailure(kind: .invalidToken, description: "the ID token's issuer is \(claims.iss.value), not \(settings.issuer)")
        }
        guard let tokenNonce = claims.nonce, Self.constantTimeEquals(tokenNonce, nonce) else {
            throw OIDCFailure(kind: .invalidToken, description: "the ID token's nonce does not match this sign-in")
        }
        return claims
    }

    private func keySet(issuer: String, refresh: Bool) async throws -> Keys {
        // Refetched after the discovery lifetime too, so a key the issuer withdrew stops being accepted.
        if !refresh, let cached = keys[issuer], clock.now - cached.fetchedAt < discoveryLifetime { return cached }
        let uri = try await discovery(issuer: issuer).jwksURI
        let jwks = try await fetch(JWKS.self, from: uri, what: "key set")
        let collection = JWTKeyCollection()
        for key in jwks.keys where key.keyIdentifier != nil {
            do { try await collection.add(jwk: key) } catch { continue }  // a key type Netra cannot use
        }
        let set = Keys(collection: collection, ids: Set(jwks.keys.compactMap { $0.keyIdentifier?.string }), fetchedAt: clock.now)
        keys[issuer] = set
        return set
    }

    private func fetch<T: Decodable>(_ type: T.Type, from url: String, what: String) async throws -> T {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request, what: what)
        guard status == 200 else { throw OIDCFailure(kind: .unreachable, description: "the issuer's \(what) answered HTTP \(status)") }
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw OIDCFailure(kind: .unreachable, description: "the issuer's \(what) is not valid JSON")
        }
    }

    private func send(_ request: HTTPClientRequest, what: String) async throws -> (Int, Data) {
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Data(buffer: body))
        } catch {
            throw OIDCFailure(kind: .unreachable, description: "the issuer's \(what) could not be reached: \(error)")
        }
    }

    /// The `kid` in a compact JWS header, without verifying anything.
    static func keyID(of token: String) -> String? {
        guard let header = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Data(base64URL: String(header)),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["kid"] as? String
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? JWTError { return error.reason ?? "\(error.errorType)" }
        return "\(error)"
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        APIKeys.constantTimeEquals(Array(a.utf8), Array(b.utf8))
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `application/x-www-form-urlencoded` (RFC 3986 unreserved characters kept, everything else percent-encoded).
    static func formEncode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }
}

extension Data {
    /// Decodes base64url (RFC 4648 §5) with or without padding.
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }

    /// Encodes as base64url without padding.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
