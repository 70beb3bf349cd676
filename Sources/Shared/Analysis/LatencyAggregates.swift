import Foundation

/// Latency of successful calls, per model (with its provider) and per feature: one query with two grouping sets,
/// so each percentile is exact for its own group rather than merged from finer groups.
public struct LatencyGroup: Codable, Sendable, Equatable {
    /// Which grouping a row belongs to.
    public enum Dimension: String, Codable, Sendable {
        /// `model` and `provider` are set, `feature` is `nil`.
        case model
        /// `feature` is the feature (`nil` for calls logged without one); `model` and `provider` are `nil`.
        case feature
    }

    public var dimension: Dimension
    public var model: String?
    public var provider: String?
    public var feature: String?
    /// Successful calls in the group.
    public var calls: Int
    public var interactiveCalls: Int
    public var latencyP50Ms: Double
    public var latencyP95Ms: Double
    public var latencyP99Ms: Double
    /// Time to first token; `nil` when no call of the group logged it.
    public var ttftP50Ms: Double?
    public var ttftP95Ms: Double?
    public var ttftP99Ms: Double?
    /// p95 latency and TTFT of the group's interactive calls; `nil` without any.
    public var interactiveLatencyP95Ms: Double?
    public var interactiveTtftP95Ms: Double?
    /// Output (+ reasoning) tokens per second of generation time (latency minus TTFT, or the whole latency when the
    /// call logged no TTFT).
    public var outputTokensPerSecond: Double?

    public init(
        dimension: Dimension, model: String? = nil, provider: String? = nil, feature: String? = nil, calls: Int, interactiveCalls: Int = 0,
        latencyP50Ms: Double, latencyP95Ms: Double, latencyP99Ms: Double, ttftP50Ms: Double? = nil, ttftP95Ms: Double? = nil,
        ttftP99Ms: Double? = nil, interactiveLatencyP95Ms: Double? = nil, interactiveTtftP95Ms: Double? = nil,
        outputTokensPerSecond: Double? = nil
    ) {
        self.dimension = dimension
        self.model = model
        self.provider = provider
        self.feature = feature
        self.calls = calls
        self.interactiveCalls = interactiveCalls
        self.latencyP50Ms = latencyP50Ms
        self.latencyP95Ms = latencyP95Ms
        self.latencyP99Ms = latencyP99Ms
        self.ttftP50Ms = ttftP50Ms
        self.ttftP95Ms = ttftP95Ms
        self.ttftP99Ms = ttftP99Ms
        self.interactiveLatencyP95Ms = interactiveLatencyP95Ms
        self.interactiveTtftP95Ms = interactiveTtftP95Ms
        self.outputTokensPerSecond = outputTokensPerSecond
    }

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case dimension, model, provider, feature, calls
        case interactiveCalls = "interactive_calls"
        case latencyP50Ms = "latency_p50_ms"
        case latencyP95Ms = "latency_p95_ms"
        case latencyP99Ms = "latency_p99_ms"
        case ttftP50Ms = "ttft_p50_ms"
        case ttftP95Ms = "ttft_p95_ms"
        case ttftP99Ms = "ttft_p99_ms"
        case interactiveLatencyP95Ms = "interactive_latency_p95_ms"
        case interactiveTtftP95Ms = "interactive_ttft_p95_ms"
        case outputTokensPerSecond = "output_tokens_per_second"
    }

    /// One row per (model, provider) and one per feature, over successful calls. `GROUPING(model, provider)` is 0 on
    /// the model rows and 3 on the feature rows, which tells a NULL feature apart from "all features".
    /// Ordered-set aggregates skip NULLs, so TTFT percentiles use only the calls that logged one.
    public static let sql = """
        SELECT CASE WHEN GROUPING(model, provider) = 0 THEN 'model' ELSE 'feature' END AS dimension,
               model, provider, feature,
               count(*) AS calls,
               count(*) FILTER (WHERE interactive) AS interactive_calls,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95_ms,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS latency_p99_ms,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY ttft_ms) AS ttft_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS ttft_p95_ms,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY ttft_ms) AS ttft_p99_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE interactive) AS interactive_latency_p95_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE interactive) AS interactive_ttft_p95_ms,
               sum(output_tokens + coalesce(reasoning_tokens, 0))::double precision * 1000
                   / nullif(sum(greatest(latency_ms - coalesce(ttft_ms, 0), 0)), 0) AS output_tokens_per_second
        FROM workload_events
        WHERE tenant_id = $1 AND ts >= $2 AND ts < $3 AND status = 'ok'
        GROUP BY GROUPING SETS ((model, provider), (feature))
        ORDER BY 1, model, provider, feature
        """
}
