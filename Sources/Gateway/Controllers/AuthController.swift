import HTTPTypes
import Hummingbird
import Logging
import HummingbirdBcrypt
import NIOPosix
import Shared

/// `/api/auth`: login with email and password, and who am I.
struct AuthController: Sendable {
    let identities: IdentityStore
    let tokens: TokenService
    let access: AccessGuard
    /// Whose `X-Forwarded-For` names the client for the per-address login limit.
    var trustedProxies = TrustedProxies()

    /// Verified against when the email is unknown, so both cases take the same time.
    static let dummyHash = Bcrypt.hash("not-a-real-password", cost: 10)

    struct Login: Decodable {
        let email: String
        let password: String
    }

    struct TokenResponse: Encodable {
        let accessToken: String
        let tokenType = "bearer"
        let expiresIn: Int
        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
        }
    }

    struct Me: Encodable {
        let userID: UserID
        let tenantID: TenantID
        let email: String
        let name: String
        let role: String
        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case tenantID = "tenant_id"
            case email, name, role
        }
    }

    func addPublicRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/login") { request, context in
            let body = try await request.decodeJSON(Login.self, context: context)
            let address = trustedProxies.client(of: request, context: context)
            try await access.checkLogin(email: body.email, address: address, logger: context.logger)
            let user = try await identities.user(email: body.email, logger: context.logger)
            let hash = user?.passwordHash ?? Self.dummyHash
            let password = body.password
            let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
            guard let user, matches else {
                await access.recordLoginFailure(email: body.email, address: address, logger: context.logger)
                context.logger.info("Login failed", metadata: ["client.address": "\(address ?? "unknown")"])
                throw NetraError(.invalidCredentials, .unauthorized, "email or password is wrong")
            }
            let (token, expiresIn) = try await tokens.issue(for: user)
            return try jsonResponse(TokenResponse(accessToken: token, expiresIn: expiresIn))
        }
    }

    func addProtectedRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/logout") { _, context in
            let identity = try context.requireIdentity()
            guard identity.apiKeyID == nil else {
                throw NetraError(.badRequest, .badRequest, "an API key is not logged out; revoke it with DELETE /api/keys/{id}")
            }
            try await access.revoke(identity)
            return Response(status: .noContent)
        }
        group.get("/me") { _, context in
            let identity = try context.requireIdentity()
            guard let user = try await identities.user(identity.userID, tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.unauthorized
            }
            return try jsonResponse(Me(userID: user.id, tenantID: user.tenantID, email: user.email, name: user.name, role: user.role))
        }
    }
}

extension HTTPField.Name {
    /// The client address chain a proxy appends to (believed only from `TrustedProxies`).
    static let xForwardedFor = Self("X-Forwarded-For")!
}
