import Foundation
import Logging
import PostgresNIO

/// What a tenant's workload data holds.
public struct WorkloadSummary: Codable, Sendable, Equatable {
    public var events: Int
    public var firstEvent: Date?
    public var lastEvent: Date?
    public var costUSD: Double
    public var models: [String]
    public var features: [String]

    public enum CodingKeys: String, CodingKey {
        case events, models, features
        case firstEvent = "first_event"
        case lastEvent = "last_event"
        case costUSD = "cost_usd"
    }
}

/// The tenant's AI workload (`workload_events`): bulk insert, summary, deletion, and the analysis aggregates.
/// Every statement names the tenant.
public struct WorkloadStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    /// Rows per INSERT statement: the whole chunk travels as one array per column.
    static let chunk = 5_000

    /// Inserts events in chunks of one statement each; `costs` holds the cost of each event (the caller prices
    /// events that do not carry one). With `transaction`, all chunks commit together or none does.
    public func insert(
        _ events: [WorkloadEvent], costs: [Double], tenant: TenantID, run: RunID? = nil, transaction: Bool = true, logger: Logger
    ) async throws {
        precondition(events.count == costs.count)
        guard !events.isEmpty else { return }
        if transaction {
            try await client.transaction(logger: logger) { connection in
                for start in stride(from: 0, to: events.count, by: Self.chunk) {
                    let end = min(start + Self.chunk, events.count)
                    try await connection.query(Self.insertQuery(events[start..<end], costs: costs[start..<end], tenant: tenant, run: run), logger: logger)
                }
            }
        } else {
            for start in stride(from: 0, to: events.count, by: Self.chunk) {
                let end = min(start + Self.chunk, events.count)
                try await client.query(Self.insertQuery(events[start..<end], costs: costs[start..<end], tenant: tenant, run: run), logger: logger)
            }
        }
    }

    /// One INSERT of many rows: a parameter per column (arrays without NULLs; -1, NaN and "" stand for absent).
    static func insertQuery(_ events: ArraySlice<WorkloadEvent>, costs: ArraySlice<Double>, tenant: TenantID, run: RunID?) -> PostgresQuery {
        """
        INSERT INTO workload_events (tenant_id, ts, model, provider, input_tokens, output_tokens, cached_input_tokens,
            reasoning_tokens, latency_ms, ttft_ms, status, prompt_hash, prefix_hash, prefix_tokens, max_tokens, feature,
            user_id, interactive, cost_usd, run_id)
        SELECT \(tenant.uuid), e.ts, e.model, e.provider, e.input_tokens, e.output_tokens, NULLIF(e.cached, -1),
            NULLIF(e.reasoning, -1), e.latency_ms, NULLIF(e.ttft, 'NaN'::double precision), e.status, NULLIF(e.prompt_hash, ''),
            NULLIF(e.prefix_hash, ''), NULLIF(e.prefix_tokens, -1), NULLIF(e.max_tokens, -1), NULLIF(e.feature, ''),
            NULLIF(e.user_id, ''), CASE e.interactive WHEN 1 THEN true WHEN 0 THEN false END, e.cost_usd, \(run?.uuid)
        FROM unnest(
            \(events.map(\.timestamp))::timestamptz[], \(events.map(\.model))::text[], \(events.map(\.provider))::text[],
            \(events.map(\.inputTokens))::integer[], \(events.map(\.outputTokens))::integer[],
            \(events.map { $0.cachedInputTokens ?? -1 })::integer[], \(events.map { $0.reasoningTokens ?? -1 })::integer[],
            \(events.map(\.latencyMs))::double precision[], \(events.map { $0.ttftMs ?? .nan })::double precision[],
            \(events.map(\.status.rawValue))::text[], \(events.map { $0.promptHash ?? "" })::text[],
            \(events.map { $0.prefixHash ?? "" })::text[], \(events.map { $0.prefixTokens ?? -1 })::integer[],
            \(events.map { $0.maxTokens ?? -1 })::integer[], \(events.map { $0.feature ?? "" })::text[],
            \(events.map { $0.user ?? "" })::text[], \(events.map { $0.interactive.map { $0 ? 1 : 0 } ?? -1 })::integer[],
            \(Array(costs))::double precision[]
        ) AS e(ts, model, provider, input_tokens, output_tokens, cached, reasoning, latency_ms, ttft, status, prompt_hash,
               prefix_hash, prefix_tokens, max_tokens, feature, user_id, interactive, cost_usd)
        """
    }

    /// Counts, time range, cost, and the models and features seen.
    public func summary(tenant: TenantID, logger: Logger) async throws -> WorkloadSummary {
        let rows = try await client.query(
            """
            SELECT count(*), min(ts), max(ts), coalesce(sum(cost_usd), 0)::double precision,
                   coalesce(array_agg(DISTINCT model) FILTER (WHERE model IS NOT NULL), '{}'),
                   coalesce(array_agg(DISTINCT feature) FILTER (WHERE feature IS NOT NULL), '{}')
            FROM workload_events WHERE tenant_id = \(tenant.uuid)
            """,
            logger: logger
        )
        for try await (count, first, last, cost, models, features) in rows.decode((Int, Date?, Date?, Double, [String], [String]).self) {
            return WorkloadSummary(events: count, firstEvent: first, lastEvent: last, costUSD: cost, models: models, features: features)
        }
        return WorkloadSummary(events: 0, costUSD: 0, models: [], features: [])
    }

    /// The feature names in the tenant's data.
    public func features(tenant: TenantID, logger: Logger) async throws -> [String] {
        let rows = try await client.query(
            "SELECT DISTINCT feature FROM workload_events WHERE tenant_id = \(tenant.uuid) AND feature IS NOT NULL ORDER BY 1", logger: logger
        )
        var features: [String] = []
        for try await feature in rows.decode(String.self) { features.append(feature) }
        return features
    }

    /// Deletes the tenant's events; returns how many.
    @discardableResult
    public func deleteAll(tenant: TenantID, logger: Logger) async throws -> Int {
        let rows = try await client.query(
            "WITH gone AS (DELETE FROM workload_events WHERE tenant_id = \(tenant.uuid) RETURNING 1) SELECT count(*) FROM gone", logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Deletes what a generation run wrote (before it writes again, so that a re-executed run does not double).
    public func deleteWritten(by run: RunID, tenant: TenantID, logger: Logger) async throws {
        try await client.query("DELETE FROM workload_events WHERE tenant_id = \(tenant.uuid) AND run_id = \(run.uuid)", logger: logger)
    }

    /// The analysis aggregates the `tools` read, for the window `[from, to)`: one set-based query per aggregate,
    /// and only the aggregates those tools need (the observed span always).
    public func aggregates(
        tenant: TenantID, from: Date, to: Date, for tools: [AnalysisTool] = AnalysisTool.allCases, logger: Logger
    ) async throws -> WorkloadAggregates {
        let needed = Set(tools.flatMap(\.aggregates))
        func load<Row: Decodable & Sendable>(_ part: WorkloadAggregatePart, _ type: Row.Type, _ sql: String) async throws -> [Row] {
            guard needed.contains(part) else { return [] }
            return try await rows(type, sql, tenant: tenant, from: from, to: to, logger: logger)
        }
        async let span = rows(ObservedSpan.self, ObservedSpan.sql, tenant: tenant, from: from, to: to, logger: logger)
        async let usage = load(.usage, UsageGroup.self, UsageGroup.sql)
        async let latency = load(.latency, LatencyGroup.self, LatencyGroup.sql)
        async let daily = load(.daily, DailySpend.self, DailySpend.sql)
        async let users = load(.users, UserSpend.self, UserSpend.sql)
        async let duplicates = load(.duplicates, DuplicateGroup.self, DuplicateGroup.sql)
        async let prefixes = load(.prefixes, PrefixReuseGroup.self, PrefixReuseGroup.sql)
        return WorkloadAggregates(
            span: try await span.first ?? ObservedSpan(firstEvent: nil, lastEvent: nil),
            usage: try await usage, latency: try await latency, daily: try await daily, users: try await users,
            duplicates: try await duplicates, prefixes: try await prefixes
        )
    }

    /// Runs one aggregate query and decodes its rows by column name: PostgreSQL turns the rows into one JSON array.
    private func rows<Row: Decodable>(
        _ type: Row.Type, _ sql: String, tenant: TenantID, from: Date, to: Date, logger: Logger
    ) async throws -> [Row] {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(tenant.uuid)
        bindings.append(from)
        bindings.append(to)
        let query = PostgresQuery(unsafeSQL: "SELECT coalesce(json_agg(row_to_json(t)), '[]')::text FROM (\(sql)) t", binds: bindings)
        let result = try await client.query(query, logger: logger)
        for try await json in result.decode(String.self) { return try JSONText.decode([Row].self, from: json) }
        return []
    }
}

/// The parts of ``WorkloadAggregates`` besides the span, each loaded by one query.
public enum WorkloadAggregatePart: String, Sendable, Hashable, CaseIterable {
    case usage, latency, daily, users, duplicates, prefixes
}

extension AnalysisTool {
    /// The aggregates the tool reads.
    public var aggregates: [WorkloadAggregatePart] {
        switch self {
        case .costBreakdown: [.usage, .users, .daily]
        case .latencyProfile: [.latency]
        case .duplicateCache: [.duplicates]
        case .promptCacheFitness: [.prefixes]
        case .batchEligibility, .modelRightSizing, .providerArbitrage, .failureWaste, .outputHeadroom: [.usage]
        case .spendTrend: [.daily]
        }
    }
}
