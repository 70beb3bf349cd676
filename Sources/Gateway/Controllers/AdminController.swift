import Foundation
import Hummingbird
import HummingbirdBcrypt
import NIOPosix
import Shared

/// `/api/admin`: tenant provisioning, guarded by the admin token.
struct AdminController: Sendable {
    let identities: IdentityStore
    let bcryptCost: UInt8

    struct CreateTenant: Decodable {
        struct User: Decodable {
            let name: String
            let email: String
            let password: String
        }

        let name: String
        let user: User
    }

    struct Created: Encodable {
        let tenantID: TenantID
        let userID: UserID
        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id"
            case userID = "user_id"
        }
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/tenants") { request, context in
            let body = try await request.decodeJSON(CreateTenant.self, context: context)
            try Validate.name(body.name, field: "name")
            try Validate.name(body.user.name, field: "user.name")
            try Validate.email(body.user.email)
            try Validate.password(body.user.password)
            let cost = bcryptCost
            let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(body.user.password, cost: cost) }
            do {
                let (tenant, user) = try await identities.createTenant(
                    name: body.name, userName: body.user.name, email: body.user.email.lowercased(), passwordHash: hash, logger: context.logger
                )
                return try jsonResponse(Created(tenantID: tenant, userID: user), status: .created)
            } catch is IdentityStore.EmailTaken {
                throw NetraError(.conflict, .conflict, "a user with this email already exists")
            }
        }
    }
}

/// Field checks shared by the controllers; each failure is a 422 naming the field.
enum Validate {
    static func name(_ value: String, field: String) throws {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(trimmed.count) else { throw NetraError.invalid("\(field) must be 1 to 200 characters") }
    }

    static func email(_ value: String) throws {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard value.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !value.contains(" ") else {
            throw NetraError.invalid("email is not a valid address")
        }
    }

    static func password(_ value: String) throws {
        // bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
        guard value.count >= 8, value.utf8.count <= 72 else { throw NetraError.invalid("password must be 8 to 72 bytes long") }
    }
}
