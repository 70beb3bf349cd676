import Foundation
import PostgresNIO
@testable import Shared
import SharedTestSupport
import Testing

@Suite("Migrations against a real PostgreSQL")
struct MigrationTests {
    let logger = TestEnvironment.logger("migrations")

    /// Creates an empty database for one test and drops it afterwards.
    func withFreshDatabase(_ body: @escaping @Sendable (PostgresClient.Configuration) async throws -> Void) async throws {
        try await SharedTestSupport.withFreshDatabase { name in try await body(TestEnvironment.postgres(database: name)) }
    }

    @Test func applyingTwiceChangesNothing() async throws {
        try await withFreshDatabase { configuration in
            try await withPostgres(configuration) { client in
                let first = try await Migrations.apply(on: client, logger: logger)
                #expect(first == Migrations.all.map(\.version))
                let tables = try await tableNames(client)
                let second = try await Migrations.apply(on: client, logger: logger)
                #expect(second.isEmpty)
                #expect(try await tableNames(client) == tables)
                #expect(tables.isSuperset(of: ["tenants", "users", "api_keys", "threads", "messages", "runs", "run_stages", "run_events"]))
            }
        }
    }

    @Test func twoProcessesApplyingAtOnceBothSucceed() async throws {
        try await withFreshDatabase { configuration in
            // Two separate pools, as two processes would have.
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<2 {
                    group.addTask { try await withPostgres(configuration) { try await Migrations.apply(on: $0, logger: logger) } }
                }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            // Exactly one of them applied each migration; the other found nothing to do.
            #expect(applied.flatMap { $0 }.sorted() == Migrations.all.map(\.version))
            try await withPostgres(configuration) { client in
                let rows = try await client.query("SELECT count(*) FROM schema_migrations")
                for try await count in rows.decode(Int.self) { #expect(count == Migrations.all.count) }
            }
        }
    }

    @Test func deletingRunsDeletesTheirEventsAndCheckpointsAndNoOthers() async throws {
        try await withFreshDatabase { configuration in
            try await withPostgres(configuration) { client in
                try await Migrations.apply(on: client, logger: logger)
                let (gone, kept) = (UUID(), UUID())
                for tenant in [gone, kept] {
                    try await client.query("INSERT INTO tenants (id, name) VALUES (\(tenant), \(tenant.uuidString))")
                    let run = UUID()
                    try await client.query(
                        "INSERT INTO runs (id, tenant_id, pipeline, input, status, stage_count) VALUES (\(run), \(tenant), 'bench', '{}', 'running', 1)"
                    )
                    try await client.query(
                        """
                        INSERT INTO run_events (run_id, seq, tenant_id, type, data)
                        SELECT \(run), seq, \(tenant), 'agent_log', '{}' FROM generate_series(1, 3) AS seq
                        """
                    )
                    try await client.query(
                        "INSERT INTO run_stages (run_id, stage_index, stage, attempt, output, started_at) VALUES (\(run), 0, 's', 1, '{}', now())"
                    )
                }
                // Through the cascade from tenants to runs, as the tenant's removal would do it.
                try await client.query("DELETE FROM tenants WHERE id = \(gone)")
                let expectations: [(String, [UUID?: Int])] = [("run_events", [kept: 3]), ("run_stages", [kept: 1])]
                for (table, expected) in expectations {
                    // Rows whose run is gone count under `nil`.
                    var counts: [UUID?: Int] = [:]
                    let rows = try await client.query(
                        "SELECT r.tenant_id, count(*) FROM \(unescaped: table) x LEFT JOIN runs r ON r.id = x.run_id GROUP BY r.tenant_id"
                    )
                    for try await (tenant, count) in rows.decode((UUID?, Int).self) { counts[tenant] = count }
                    #expect(counts == expected, "\(table)")
                }
            }
        }
    }

    @Test func statementsAreSplitOutsideDollarQuotes() {
        let sql = """
            -- a comment
            CREATE TABLE a (x int);
            CREATE FUNCTION f() RETURNS int AS $$
            BEGIN
                RETURN 1;
            END;
            $$ LANGUAGE plpgsql;
            SELECT 1;
            """
        let statements = Migrations.statements(in: sql)
        #expect(statements.count == 3)
        #expect(statements[1].hasPrefix("CREATE FUNCTION") && statements[1].hasSuffix("LANGUAGE plpgsql;"))
    }

    private func tableNames(_ client: PostgresClient) async throws -> Set<String> {
        var names = Set<String>()
        let rows = try await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for try await name in rows.decode(String.self) { names.insert(name) }
        return names
    }
}
