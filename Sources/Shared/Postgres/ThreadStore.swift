import Foundation
import Logging
import PostgresNIO

/// A conversation thread.
public struct ThreadRecord: Sendable, Equatable {
    public let id: ThreadID
    public let title: String
    public let createdAt: Date
    public let updatedAt: Date
}

/// Conversations, always scoped by tenant.
public struct ThreadStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    /// Creates a thread.
    public func create(tenant: TenantID, user: UserID?, title: String, logger: Logger) async throws -> ThreadRecord {
        let id = ThreadID()
        let rows = try await client.query(
            """
            INSERT INTO threads (id, tenant_id, user_id, title) VALUES (\(id.uuid), \(tenant.uuid), \(user?.uuid), \(title))
            RETURNING id, title, created_at, updated_at
            """,
            logger: logger
        )
        guard let thread = try await Self.records(rows).first else { throw PostgresStoreError.missingRow }
        return thread
    }

    /// The tenant's threads, most recently active first.
    public func list(tenant: TenantID, limit: Int, logger: Logger) async throws -> [ThreadRecord] {
        let rows = try await client.query(
            """
            SELECT id, title, created_at, updated_at FROM threads WHERE tenant_id = \(tenant.uuid)
            ORDER BY updated_at DESC, id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        return try await Self.records(rows)
    }

    /// The thread, if it belongs to `tenant`.
    public func thread(_ id: ThreadID, tenant: TenantID, logger: Logger) async throws -> ThreadRecord? {
        let rows = try await client.query(
            "SELECT id, title, created_at, updated_at FROM threads WHERE id = \(id.uuid) AND tenant_id = \(tenant.uuid)",
            logger: logger
        )
        return try await Self.records(rows).first
    }

    private static func records(_ rows: PostgresRowSequence) async throws -> [ThreadRecord] {
        var threads: [ThreadRecord] = []
        for try await (id, title, created, updated) in rows.decode((UUID, String, Date, Date).self) {
            threads.append(ThreadRecord(id: ThreadID(uuid: id), title: title, createdAt: created, updatedAt: updated))
        }
        return threads
    }
}

/// Store failures that are not PostgreSQL's own.
public enum PostgresStoreError: Error {
    /// A statement that must return a row returned none.
    case missingRow
}
