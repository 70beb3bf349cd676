import Foundation

// Each aggregate type is the row of one set-based query over `workload_events`, and carries that query as `sql`:
// parameters $1 = tenant_id (uuid), $2 = from (timestamptz, inclusive), $3 = to (timestamptz, exclusive).
// Column names equal the coding keys, so a row decodes by name. Integer columns are `bigint` (Swift `Int`), the rest
// `double precision`, `text` or `timestamptz`; a column that can be NULL is an optional property.

/// Everything the analysis tools read, as the Data stage loads it: one query per property.
public struct WorkloadAggregates: Codable, Sendable, Equatable {
    public var span: ObservedSpan
    public var usage: [UsageGroup]
    public var latency: [LatencyGroup]
    public var daily: [DailySpend]
    public var users: [UserSpend]
    public var duplicates: [DuplicateGroup]
    public var prefixes: [PrefixReuseGroup]

    public init(
        span: ObservedSpan, usage: [UsageGroup] = [], latency: [LatencyGroup] = [], daily: [DailySpend] = [], users: [UserSpend] = [],
        duplicates: [DuplicateGroup] = [], prefixes: [PrefixReuseGroup] = []
    ) {
        self.span = span
        self.usage = usage
        self.latency = latency
        self.daily = daily
        self.users = users
        self.duplicates = duplicates
        self.prefixes = prefixes
    }
}

/// The time the tenant's events actually cover inside the requested window (one row, even with no events).
public struct ObservedSpan: Codable, Sendable, Equatable {
    /// The first and last event; `nil` when the window has no events.
    public var firstEvent: Date?
    public var lastEvent: Date?
    public var calls: Int
    public var costUSD: Double

    public init(firstEvent: Date?, lastEvent: Date?, calls: Int = 0, costUSD: Double = 0) {
        self.firstEvent = firstEvent
        self.lastEvent = lastEvent
        self.calls = calls
        self.costUSD = costUSD
    }

    /// Days from the first to the last event, at least 1 (so a few hours of data is not scaled up).
    public var days: Double {
        guard let firstEvent, let lastEvent else { return 1 }
        return max(1, lastEvent.timeIntervalSince(firstEvent) / 86_400)
    }

    /// What turns a figure of the observed window into a monthly one: 30 / ``days``.
    public var monthlyFactor: Double { 30 / days }

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case calls
        case firstEvent = "first_event"
        case lastEvent = "last_event"
        case costUSD = "cost_usd"
    }

    /// One row: first and last event, calls and cost in the window.
    public static let sql = """
        SELECT min(ts) AS first_event,
               max(ts) AS last_event,
               count(*) AS calls,
               coalesce(sum(cost_usd), 0)::double precision AS cost_usd
        FROM workload_events
        WHERE tenant_id = $1 AND ts >= $2 AND ts < $3
        """
}

/// Usage of one slice of traffic, a `(model, provider, feature)` group: counts, tokens, cost, failures and
/// output shape. `interactive` is not a grouping key but split into filtered columns, so that every per-slice tool
/// (batch, right-sizing, arbitrage, failures, headroom) reads the same rows and their opportunities line up.
public struct UsageGroup: Codable, Sendable, Equatable {
    public var model: String
    public var provider: String
    /// `nil` for calls logged without a feature.
    public var feature: String?
    public var calls: Int
    public var errorCalls: Int
    public var timeoutCalls: Int
    /// Calls logged `interactive = true`; calls with `interactive` NULL are in neither count.
    public var interactiveCalls: Int
    /// Calls logged `interactive = false`: the only ones a batch API may take.
    public var nonInteractiveCalls: Int
    public var nonInteractiveCostUSD: Double
    public var inputTokens: Int
    /// The part of `inputTokens` served from the provider's prompt cache.
    public var cachedInputTokens: Int
    public var outputTokens: Int
    /// Billed as output, on top of `outputTokens`.
    public var reasoningTokens: Int
    public var costUSD: Double
    /// Cost, input tokens and output (+ reasoning) tokens of the calls whose status is `error` or `timeout`.
    public var failedCostUSD: Double
    public var failedInputTokens: Int
    public var failedOutputTokens: Int
    public var maxInputTokens: Int
    /// Average and p95 `output_tokens` of successful calls; `nil` when the slice has none.
    public var avgOutputTokens: Double?
    public var p95OutputTokens: Double?
    /// Average `max_tokens` of the calls that set it; `nil` when none did.
    public var avgMaxTokens: Double?

    public init(
        model: String, provider: String, feature: String?, calls: Int, errorCalls: Int = 0, timeoutCalls: Int = 0,
        interactiveCalls: Int = 0, nonInteractiveCalls: Int = 0, nonInteractiveCostUSD: Double = 0,
        inputTokens: Int = 0, cachedInputTokens: Int = 0, outputTokens: Int = 0, reasoningTokens: Int = 0, costUSD: Double,
        failedCostUSD: Double = 0, failedInputTokens: Int = 0, failedOutputTokens: Int = 0, maxInputTokens: Int = 0,
        avgOutputTokens: Double? = nil, p95OutputTokens: Double? = nil, avgMaxTokens: Double? = nil
    ) {
        self.model = model
        self.provider = provider
        self.feature = feature
        self.calls = calls
        self.errorCalls = errorCalls
        self.timeoutCalls = timeoutCalls
        self.interactiveCalls = interactiveCalls
        self.nonInteractiveCalls = nonInteractiveCalls
        self.nonInteractiveCostUSD = nonInteractiveCostUSD
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
        self.costUSD = costUSD
        self.failedCostUSD = failedCostUSD
        self.failedInputTokens = failedInputTokens
        self.failedOutputTokens = failedOutputTokens
        self.maxInputTokens = maxInputTokens
        self.avgOutputTokens = avgOutputTokens
        self.p95OutputTokens = p95OutputTokens
        self.avgMaxTokens = avgMaxTokens
    }

    /// Calls that ended in `error` or `timeout`.
    public var failedCalls: Int { errorCalls + timeoutCalls }

    /// The slice as an opportunity scope.
    public var scope: Opportunity.Scope { Opportunity.Scope(feature: feature, model: model, provider: provider) }

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case model, provider, feature, calls
        case errorCalls = "error_calls"
        case timeoutCalls = "timeout_calls"
        case interactiveCalls = "interactive_calls"
        case nonInteractiveCalls = "non_interactive_calls"
        case nonInteractiveCostUSD = "non_interactive_cost_usd"
        case inputTokens = "input_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case outputTokens = "output_tokens"
        case reasoningTokens = "reasoning_tokens"
        case costUSD = "cost_usd"
        case failedCostUSD = "failed_cost_usd"
        case failedInputTokens = "failed_input_tokens"
        case failedOutputTokens = "failed_output_tokens"
        case maxInputTokens = "max_input_tokens"
        case avgOutputTokens = "avg_output_tokens"
        case p95OutputTokens = "p95_output_tokens"
        case avgMaxTokens = "avg_max_tokens"
    }

    /// One row per `(model, provider, feature)`; a NULL feature is its own group.
    public static let sql = """
        SELECT model, provider, feature,
               count(*) AS calls,
               count(*) FILTER (WHERE status = 'error') AS error_calls,
               count(*) FILTER (WHERE status = 'timeout') AS timeout_calls,
               count(*) FILTER (WHERE interactive) AS interactive_calls,
               count(*) FILTER (WHERE NOT interactive) AS non_interactive_calls,
               coalesce(sum(cost_usd) FILTER (WHERE NOT interactive), 0)::double precision AS non_interactive_cost_usd,
               sum(input_tokens)::bigint AS input_tokens,
               sum(least(coalesce(cached_input_tokens, 0), input_tokens))::bigint AS cached_input_tokens,
               sum(output_tokens)::bigint AS output_tokens,
               coalesce(sum(reasoning_tokens), 0)::bigint AS reasoning_tokens,
               sum(cost_usd)::double precision AS cost_usd,
               coalesce(sum(cost_usd) FILTER (WHERE status <> 'ok'), 0)::double precision AS failed_cost_usd,
               coalesce(sum(input_tokens) FILTER (WHERE status <> 'ok'), 0)::bigint AS failed_input_tokens,
               coalesce(sum(output_tokens + coalesce(reasoning_tokens, 0)) FILTER (WHERE status <> 'ok'), 0)::bigint
                   AS failed_output_tokens,
               max(input_tokens)::bigint AS max_input_tokens,
               (avg(output_tokens) FILTER (WHERE status = 'ok'))::double precision AS avg_output_tokens,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY output_tokens) FILTER (WHERE status = 'ok') AS p95_output_tokens,
               avg(max_tokens)::double precision AS avg_max_tokens
        FROM workload_events
        WHERE tenant_id = $1 AND ts >= $2 AND ts < $3
        GROUP BY model, provider, feature
        ORDER BY sum(cost_usd) DESC, model, provider, feature
        """
}
