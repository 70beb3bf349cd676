import Foundation
import Logging
import PostgresNIO

/// Tenants and their users. Passwords arrive already hashed; this store never sees them in clear.
public struct IdentityStore: Sendable {
    /// A user as login and `/me` need it.
    public struct User: Sendable, Equatable {
        public let id: UserID
        public let tenantID: TenantID
        public let email: String
        public let name: String
        public let role: String
        public let passwordHash: String

        public init(id: UserID, tenantID: TenantID, email: String, name: String, role: String, passwordHash: String) {
            self.id = id
            self.tenantID = tenantID
            self.email = email
            self.name = name
            self.role = role
            self.passwordHash = passwordHash
        }
    }

    /// Thrown when a new user's email is already registered.
    public struct EmailTaken: Error {}

    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    /// Creates a tenant with its first user (an `admin` of it), in one transaction.
    public func createTenant(
        name: String,
        userName: String,
        email: String,
        passwordHash: String,
        logger: Logger
    ) async throws -> (TenantID, UserID) {
        let tenant = TenantID()
        let user = UserID()
        do {
            try await client.transaction(logger: logger) { connection in
                try await connection.query("INSERT INTO tenants (id, name) VALUES (\(tenant.uuid), \(name))", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO users (id, tenant_id, email, name, password_hash, role)
                    VALUES (\(user.uuid), \(tenant.uuid), \(email), \(userName), \(passwordHash), 'admin')
                    """,
                    logger: logger
                )
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw EmailTaken()
        }
        return (tenant, user)
    }

    /// The user with this email (case-insensitive), in any tenant.
    public func user(email: String, logger: Logger) async throws -> User? {
        let rows = try await client.query(
            """
            SELECT id, tenant_id, email, name, role, password_hash FROM users WHERE lower(email) = lower(\(email))
            """,
            logger: logger
        )
        return try await Self.first(rows)
    }

    /// A user of `tenant`.
    public func user(_ id: UserID, tenant: TenantID, logger: Logger) async throws -> User? {
        let rows = try await client.query(
            """
            SELECT id, tenant_id, email, name, role, password_hash FROM users
            WHERE id = \(id.uuid) AND tenant_id = \(tenant.uuid)
            """,
            logger: logger
        )
        return try await Self.first(rows)
    }

    private static func first(_ rows: PostgresRowSequence) async throws -> User? {
        for try await (id, tenant, email, name, role, hash) in rows.decode((UUID, UUID, String, String, String, String).self) {
            return User(id: UserID(uuid: id), tenantID: TenantID(uuid: tenant), email: email, name: name, role: role, passwordHash: hash)
        }
        return nil
    }
}
