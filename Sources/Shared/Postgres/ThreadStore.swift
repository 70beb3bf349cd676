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

/// One message of a thread: a user's (`user`) or a run's reply (`assistant`).
public struct ThreadMessage: Sendable, Equatable {
    public let id: UUID
    public let runID: RunID?
    public let role: String
    public let content: String
    public let createdAt: Date
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

    /// Renames the thread; `nil` when it is not the tenant's.
    public func rename(_ id: ThreadID, tenant: TenantID, title: String, logger: Logger) async throws -> ThreadRecord? {
        let rows = try await client.query(
            """
            UPDATE threads SET title = \(title), updated_at = now() WHERE id = \(id.uuid) AND tenant_id = \(tenant.uuid)
            RETURNING id, title, created_at, updated_at
            """,
            logger: logger
        )
        return try await Self.records(rows).first
    }

    /// Deletes the thread and its messages (its runs stay, without a thread); `false` when it is not the tenant's.
    public func delete(_ id: ThreadID, tenant: TenantID, logger: Logger) async throws -> Bool {
        let rows = try await client.query(
            "DELETE FROM threads WHERE id = \(id.uuid) AND tenant_id = \(tenant.uuid) RETURNING id", logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Makes the thread the user's active one; `nil` when it is not the tenant's.
    public func activate(_ id: ThreadID, tenant: TenantID, user: UserID, logger: Logger) async throws -> ThreadRecord? {
        let rows = try await client.query(
            """
            WITH chosen AS (
                UPDATE threads SET updated_at = now() WHERE id = \(id.uuid) AND tenant_id = \(tenant.uuid)
                RETURNING id, title, created_at, updated_at),
            switched AS (
                UPDATE users SET active_thread_id = (SELECT id FROM chosen)
                WHERE id = \(user.uuid) AND tenant_id = \(tenant.uuid) AND EXISTS (SELECT 1 FROM chosen))
            SELECT id, title, created_at, updated_at FROM chosen
            """,
            logger: logger
        )
        return try await Self.records(rows).first
    }

    /// The user's active thread, if any.
    public func activeThread(user: UserID, tenant: TenantID, logger: Logger) async throws -> ThreadID? {
        let rows = try await client.query(
            "SELECT active_thread_id FROM users WHERE id = \(user.uuid) AND tenant_id = \(tenant.uuid)", logger: logger
        )
        for try await id in rows.decode(UUID?.self) { return id.map(ThreadID.init) }
        return nil
    }

    /// The thread's conversation in order: the users' messages, and each run's reply once it has ended (its
    /// report or result, or why it failed), stamped with when the run ended.
    public func messages(_ id: ThreadID, tenant: TenantID, limit: Int, logger: Logger) async throws -> [ThreadMessage] {
        let rows = try await client.query(
            """
            SELECT id, run_id, role, content, NULL::text, created_at FROM messages
            WHERE tenant_id = \(tenant.uuid) AND thread_id = \(id.uuid)
            UNION ALL
            SELECT id, id, 'assistant', status, COALESCE(result::text, error::text), finished_at FROM runs
            WHERE tenant_id = \(tenant.uuid) AND thread_id = \(id.uuid) AND finished_at IS NOT NULL
            ORDER BY 6, 3 DESC
            LIMIT \(limit)
            """,
            logger: logger
        )
        var messages: [ThreadMessage] = []
        for try await (id, run, role, content, payload, created) in rows.decode((UUID, UUID?, String, String, String?, Date).self) {
            if role == "assistant", let status = RunStatus(rawValue: content) {
                messages.append(ThreadMessage(id: id, runID: run.map(RunID.init), role: role, content: Self.reply(status: status, payload: payload), createdAt: created))
            } else {
                messages.append(ThreadMessage(id: id, runID: run.map(RunID.init), role: role, content: content, createdAt: created))
            }
        }
        return messages
    }

    /// A run's reply as text: an optimization run's report in Markdown, another run's result as JSON, or its end.
    static func reply(status: RunStatus, payload: String?) -> String {
        switch status {
        case .succeeded:
            if let payload, let report = try? JSONText.decode(OptimizationReport.self, from: payload) { return report.markdown() }
            return payload ?? "Done."
        case .cancelled: return "The run was cancelled."
        case .failed, .dead:
            if let payload, let error = try? JSONText.decode(JSONValue.self, from: payload), case .object(let fields) = error,
                case .string(let message)? = fields["message"]
            {
                return "The run \(status.rawValue): \(message)"
            }
            return "The run \(status.rawValue)."
        case .queued, .running, .scheduled: return ""
        }
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
