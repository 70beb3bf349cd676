import Foundation
import Logging
import PostgresNIO

/// Applies the ordered SQL files under `Postgres/Migrations` (`V0001__name.sql`, embedded in the binary).
///
/// All of it runs in one transaction holding a transaction-scoped advisory lock, so processes starting at once
/// serialise here: the first applies what is missing, the others find nothing left to do.
public enum Migrations {
    /// One migration: its version (the file's number) and its SQL.
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// Every migration, in order.
    public static let all: [Migration] = [
        Migration(version: 1, name: "initial", sql: String(decoding: PackageResources.V0001__initial_sql, as: UTF8.self)),
        Migration(version: 2, name: "recovery", sql: String(decoding: PackageResources.V0002__recovery_sql, as: UTF8.self)),
        Migration(
            version: 3, name: "stage_executions", sql: String(decoding: PackageResources.V0003__stage_executions_sql, as: UTF8.self)
        ),
        Migration(version: 4, name: "hot_updates", sql: String(decoding: PackageResources.V0004__hot_updates_sql, as: UTF8.self)),
        Migration(
            version: 5, name: "workload_events", sql: String(decoding: PackageResources.V0005__workload_events_sql, as: UTF8.self)
        ),
        Migration(
            version: 6, name: "tenant_policies", sql: String(decoding: PackageResources.V0006__tenant_policies_sql, as: UTF8.self)
        ),
        Migration(
            version: 7, name: "tenant_in_flight", sql: String(decoding: PackageResources.V0007__tenant_in_flight_sql, as: UTF8.self)
        ),
        Migration(version: 8, name: "active_thread", sql: String(decoding: PackageResources.V0008__active_thread_sql, as: UTF8.self)),
        Migration(version: 9, name: "schedules", sql: String(decoding: PackageResources.V0009__schedules_sql, as: UTF8.self)),
        Migration(version: 10, name: "webhooks", sql: String(decoding: PackageResources.V0010__webhooks_sql, as: UTF8.self)),
        Migration(version: 11, name: "recent_failures", sql: String(decoding: PackageResources.V0011__recent_failures_sql, as: UTF8.self)),
        Migration(version: 12, name: "oidc", sql: String(decoding: PackageResources.V0012__oidc_sql, as: UTF8.self)),
        Migration(version: 13, name: "running_runs", sql: String(decoding: PackageResources.V0013__running_runs_sql, as: UTF8.self)),
        Migration(
            version: 14, name: "event_log_without_row_checks",
            sql: String(decoding: PackageResources.V0014__event_log_without_row_checks_sql, as: UTF8.self)
        ),
    ]

    /// The advisory lock key (an arbitrary constant: "netra" in ASCII).
    static let lockKey: Int64 = 0x6E_65_74_72_61

    /// Applies every migration not yet recorded in `schema_migrations`.
    ///
    /// - Returns: The versions applied by this call (empty when the schema was current).
    @discardableResult
    public static func apply(on client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.transaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """,
                logger: logger
            )
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
                .decode(Int.self)
            {
                applied.insert(version)
            }
            var done: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                for statement in statements(in: migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger
                )
                logger.info("Applied migration", metadata: ["migration.version": "\(migration.version)"])
                done.append(migration.version)
            }
            return done
        }
    }

    /// Splits a migration into statements: each ends with `;` at the end of a line, outside `$$` bodies.
    ///
    /// postgres-nio speaks the extended protocol, which takes one statement per query.
    static func statements(in sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var insideDollarQuote = false
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") && current.isEmpty { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { insideDollarQuote.toggle() }
            if !insideDollarQuote && trimmed.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }
}
