import Foundation
import Hummingbird
import HummingbirdBcrypt
import NIOPosix
import Shared

/// `/api/users` and `/api/keys`: a tenant's people and API keys, managed by its admins only.
struct UsersController: Sendable {
    let identities: IdentityStore
    let bcryptCost: UInt8

    struct NewUser: Decodable {
        let name: String
        let email: String
        let password: String
        let role: String?
    }

    struct UserBody: Encodable {
        let userID: UserID
        let email: String
        let name: String
        let role: String
        let createdAt: Date
        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case email, name, role
            case createdAt = "created_at"
        }
        init(_ user: IdentityStore.UserSummary) {
            userID = user.id
            email = user.email
            name = user.name
            role = user.role
            createdAt = user.createdAt
        }
    }

    struct NewKey: Decodable {
        let name: String
    }

    struct KeyBody: Encodable {
        /// In lower case, as every identifier the API gives out (Foundation would write a `UUID` in upper case).
        let id: String
        let name: String
        let prefix: String
        /// Only in the answer to its creation.
        let key: String?
        let createdAt: Date
        let lastUsedAt: Date?
        let revokedAt: Date?
        enum CodingKeys: String, CodingKey {
            case id, name, prefix, key
            case createdAt = "created_at"
            case lastUsedAt = "last_used_at"
            case revokedAt = "revoked_at"
        }
        init(_ key: IdentityStore.APIKey, secret: String? = nil) {
            id = key.id.lowercasedText
            name = key.name
            prefix = key.prefix
            self.key = secret
            createdAt = key.createdAt
            lastUsedAt = key.lastUsedAt
            revokedAt = key.revokedAt
        }
    }

    func addRoutes(users: RouterGroup<GatewayContext>, keys: RouterGroup<GatewayContext>) {
        users.post("/") { request, context in
            let identity = try context.requireIdentity()
            try identity.requireAdmin()
            let body = try await request.decodeJSON(NewUser.self, context: context)
            let role = body.role ?? "member"
            guard ["admin", "member"].contains(role) else { throw NetraError.invalid("role must be admin or member") }
            try Validate.name(body.name, field: "name")
            try Validate.email(body.email)
            try Validate.password(body.password)
            let password = body.password
            let cost = bcryptCost
            let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
            do {
                let user = try await identities.createUser(
                    tenant: identity.tenantID, name: body.name, email: body.email.lowercased(), passwordHash: hash, role: role, logger: context.logger
                )
                return try jsonResponse(UserBody(user), status: .created)
            } catch is IdentityStore.EmailTaken {
                throw NetraError(.conflict, .conflict, "a user with this email exists")
            }
        }
        users.get("/") { _, context in
            let identity = try context.requireIdentity()
            try identity.requireAdmin()
            return try jsonResponse(["users": try await identities.users(tenant: identity.tenantID, logger: context.logger).map(UserBody.init)])
        }
        keys.post("/") { request, context in
            let identity = try context.requireIdentity()
            try identity.requireAdmin()
            let body = try await request.decodeJSON(NewKey.self, context: context)
            try Validate.name(body.name, field: "name")
            let (secret, prefix, hash) = APIKeys.generate()
            let key = try await identities.createKey(
                tenant: identity.tenantID, user: identity.userID, name: body.name, prefix: prefix, keyHash: hash, logger: context.logger
            )
            return try jsonResponse(KeyBody(key, secret: secret), status: .created)
        }
        keys.get("/") { _, context in
            let identity = try context.requireIdentity()
            try identity.requireAdmin()
            return try jsonResponse(["keys": try await identities.keys(tenant: identity.tenantID, logger: context.logger).map { KeyBody($0) }])
        }
        keys.delete("/{key_id}") { _, context in
            let identity = try context.requireIdentity()
            try identity.requireAdmin()
            guard let text = context.parameters.get("key_id"), let id = UUID(uuidString: text),
                try await identities.revokeKey(id, tenant: identity.tenantID, logger: context.logger)
            else { throw NetraError.notFound(.notFound, "API key not found") }
            return Response(status: .noContent)
        }
    }
}
