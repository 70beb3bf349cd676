import Foundation
import Logging
import PostgresNIO

extension IdentityStore {
    /// A user as the users API lists them.
    public struct UserSummary: Sendable, Equatable {
        public let id: UserID
        public let email: String
        public let name: String
        public let role: String
        public let createdAt: Date
    }

    /// An API key as listed (never its secret or hash).
    public struct APIKey: Sendable, Equatable {
        public let id: UUID
        public let name: String
        public let prefix: String
        public let createdAt: Date
        public let lastUsedAt: Date?
        public let revokedAt: Date?
    }

    /// The owner of a key, found by the key's public prefix.
    public struct KeyOwner: Sendable {
        public let keyID: UUID
        public let tenantID: TenantID
        public let userID: UserID
        public let role: String
        public let keyHash: String
    }

    /// Adds a user to a tenant.
    public func createUser(
        tenant: TenantID, name: String, email: String, passwordHash: String, role: String, logger: Logger
    ) async throws -> UserSummary {
        let id = UserID()
        do {
            let rows = try await client.query(
                """
                INSERT INTO users (id, tenant_id, email, name, password_hash, role)
                VALUES (\(id.uuid), \(tenant.uuid), \(email), \(name), \(passwordHash), \(role))
                RETURNING created_at
                """,
                logger: logger
            )
            for try await created in rows.decode(Date.self) {
                return UserSummary(id: id, email: email, name: name, role: role, createdAt: created)
            }
            throw PostgresStoreError.missingRow
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw EmailTaken()
        }
    }

    /// The tenant's users, oldest first.
    public func users(tenant: TenantID, logger: Logger) async throws -> [UserSummary] {
        let rows = try await client.query(
            "SELECT id, email, name, role, created_at FROM users WHERE tenant_id = \(tenant.uuid) ORDER BY created_at, id", logger: logger
        )
        var users: [UserSummary] = []
        for try await (id, email, name, role, created) in rows.decode((UUID, String, String, String, Date).self) {
            users.append(UserSummary(id: UserID(uuid: id), email: email, name: name, role: role, createdAt: created))
        }
        return users
    }

    /// Stores a new key (its hash only).
    public func createKey(tenant: TenantID, user: UserID, name: String, prefix: String, keyHash: String, logger: Logger) async throws -> APIKey {
        let id = UUID()
        let rows = try await client.query(
            """
            INSERT INTO api_keys (id, tenant_id, user_id, name, prefix, key_hash)
            VALUES (\(id), \(tenant.uuid), \(user.uuid), \(name), \(prefix), \(keyHash))
            RETURNING created_at
            """,
            logger: logger
        )
        for try await created in rows.decode(Date.self) {
            return APIKey(id: id, name: name, prefix: prefix, createdAt: created, lastUsedAt: nil, revokedAt: nil)
        }
        throw PostgresStoreError.missingRow
    }

    /// The tenant's keys, newest first.
    public func keys(tenant: TenantID, logger: Logger) async throws -> [APIKey] {
        let rows = try await client.query(
            """
            SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys
            WHERE tenant_id = \(tenant.uuid) ORDER BY created_at DESC, id
            """,
            logger: logger
        )
        var keys: [APIKey] = []
        for try await (id, name, prefix, created, used, revoked) in rows.decode((UUID, String, String, Date, Date?, Date?).self) {
            keys.append(APIKey(id: id, name: name, prefix: prefix, createdAt: created, lastUsedAt: used, revokedAt: revoked))
        }
        return keys
    }

    /// Records that a verified key was used (at most once a minute, so a busy key does not write on every request).
    public func markUsed(key id: UUID, logger: Logger) async throws {
        try await client.query(
            """
            UPDATE api_keys SET last_used_at = now()
            WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
            """,
            logger: logger
        )
    }

    /// Revokes a key of the tenant; `false` when the tenant has no such key.
    public func revokeKey(_ id: UUID, tenant: TenantID, logger: Logger) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
            WHERE id = \(id) AND tenant_id = \(tenant.uuid) RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// The live (not revoked) key with this prefix and its user.
    public func keyOwner(prefix: String, logger: Logger) async throws -> KeyOwner? {
        let rows = try await client.query(
            """
            SELECT k.id, k.tenant_id, k.user_id, u.role, k.key_hash
            FROM api_keys k JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id
            WHERE k.prefix = \(prefix) AND k.revoked_at IS NULL
            """,
            logger: logger
        )
        for try await (id, tenant, user, role, hash) in rows.decode((UUID, UUID, UUID, String, String).self) {
            return KeyOwner(keyID: id, tenantID: TenantID(uuid: tenant), userID: UserID(uuid: user), role: role, keyHash: hash)
        }
        return nil
    }
}
