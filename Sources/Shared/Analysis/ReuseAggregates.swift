import Foundation

/// Exact repeats in one `(feature, model, provider)` slice: successful calls whose `prompt_hash` was already sent to
/// the same model (by any feature or provider) at most ``window`` earlier, which a response cache would have answered.
///
/// Each call is compared with the previous call of the same `(model, prompt_hash)` (`LAG` over `ts`), so a cache
/// entry lives while it keeps being hit within 24 h. Only successful calls count: a failed call leaves nothing to
/// cache. The slice's total calls and cost come along so a share can be computed. Slices without repeats have no row.
public struct DuplicateGroup: Codable, Sendable, Equatable {
    public var feature: String?
    public var model: String
    public var provider: String
    /// All calls of the slice, and their cost.
    public var calls: Int
    public var costUSD: Double
    /// The repeats, their cost and their summed latency.
    public var duplicateCalls: Int
    public var duplicateCostUSD: Double
    public var duplicateLatencyTotalMs: Double

    public init(
        feature: String?, model: String, provider: String, calls: Int, costUSD: Double, duplicateCalls: Int, duplicateCostUSD: Double,
        duplicateLatencyTotalMs: Double = 0
    ) {
        self.feature = feature
        self.model = model
        self.provider = provider
        self.calls = calls
        self.costUSD = costUSD
        self.duplicateCalls = duplicateCalls
        self.duplicateCostUSD = duplicateCostUSD
        self.duplicateLatencyTotalMs = duplicateLatencyTotalMs
    }

    /// How long a cached response stays usable after its previous use.
    public static let window = "24 hours"

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case feature, model, provider, calls
        case costUSD = "cost_usd"
        case duplicateCalls = "duplicate_calls"
        case duplicateCostUSD = "duplicate_cost_usd"
        case duplicateLatencyTotalMs = "duplicate_latency_total_ms"
    }

    /// One row per slice that has repeats, largest avoidable cost first.
    public static let sql = """
        WITH hashed AS (
            SELECT feature, model, provider, cost_usd, latency_ms,
                   ts - lag(ts) OVER (PARTITION BY model, prompt_hash ORDER BY ts) AS gap
            FROM workload_events
            WHERE tenant_id = $1 AND ts >= $2 AND ts < $3 AND status = 'ok' AND prompt_hash IS NOT NULL
        ), repeats AS (
            SELECT feature, model, provider,
                   count(*) AS duplicate_calls,
                   sum(cost_usd)::double precision AS duplicate_cost_usd,
                   sum(latency_ms)::double precision AS duplicate_latency_total_ms
            FROM hashed
            WHERE gap <= interval '\(window)'
            GROUP BY feature, model, provider
        ), slices AS (
            SELECT feature, model, provider, count(*) AS calls, sum(cost_usd)::double precision AS cost_usd
            FROM workload_events
            WHERE tenant_id = $1 AND ts >= $2 AND ts < $3
            GROUP BY feature, model, provider
        )
        SELECT s.feature, s.model, s.provider, s.calls, s.cost_usd,
               r.duplicate_calls, r.duplicate_cost_usd, r.duplicate_latency_total_ms
        FROM repeats r
        JOIN slices s ON s.model = r.model AND s.provider = r.provider AND s.feature IS NOT DISTINCT FROM r.feature
        ORDER BY r.duplicate_cost_usd DESC, s.model, s.provider, s.feature
        """
}

/// Reuse of long shared prompt prefixes in one `(model, provider, feature)` slice: what a provider prompt cache with
/// a ``ttl`` inactivity expiry would have served.
///
/// Only calls with a `prefix_hash` and `prefix_tokens >= 1024` (the providers' minimum cacheable prefix) count. A call
/// is a *hit* when the previous call with the same `(model, provider, prefix_hash)` came at most ``ttl`` earlier
/// (`LAG` over `ts`), and a *write* otherwise (first seen in the window, or expired). Prefix tokens are capped at the
/// call's input tokens.
public struct PrefixReuseGroup: Codable, Sendable, Equatable {
    public var model: String
    public var provider: String
    public var feature: String?
    /// Calls with a cacheable prefix.
    public var calls: Int
    public var hitCalls: Int
    public var writeCalls: Int
    public var hitPrefixTokens: Int
    public var writePrefixTokens: Int
    /// Input tokens of these calls already served from the provider's cache: savings the tenant already has.
    public var cachedInputTokens: Int

    public init(
        model: String, provider: String, feature: String?, calls: Int, hitCalls: Int, writeCalls: Int, hitPrefixTokens: Int,
        writePrefixTokens: Int, cachedInputTokens: Int = 0
    ) {
        self.model = model
        self.provider = provider
        self.feature = feature
        self.calls = calls
        self.hitCalls = hitCalls
        self.writeCalls = writeCalls
        self.hitPrefixTokens = hitPrefixTokens
        self.writePrefixTokens = writePrefixTokens
        self.cachedInputTokens = cachedInputTokens
    }

    /// The smallest prefix a provider caches.
    public static let minimumPrefixTokens = 1024
    /// How long an unused cache entry lives.
    public static let ttl = "5 minutes"

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case model, provider, feature, calls
        case hitCalls = "hit_calls"
        case writeCalls = "write_calls"
        case hitPrefixTokens = "hit_prefix_tokens"
        case writePrefixTokens = "write_prefix_tokens"
        case cachedInputTokens = "cached_input_tokens"
    }

    /// One row per slice with cacheable prefixes, most hit tokens first.
    public static let sql = """
        WITH prefixed AS (
            SELECT model, provider, feature,
                   least(prefix_tokens, input_tokens) AS prefix_tokens,
                   least(coalesce(cached_input_tokens, 0), input_tokens) AS cached_input_tokens,
                   ts - lag(ts) OVER (PARTITION BY model, provider, prefix_hash ORDER BY ts) AS gap
            FROM workload_events
            WHERE tenant_id = $1 AND ts >= $2 AND ts < $3
              AND prefix_hash IS NOT NULL AND prefix_tokens >= \(minimumPrefixTokens)
        )
        SELECT model, provider, feature,
               count(*) AS calls,
               count(*) FILTER (WHERE gap <= interval '\(ttl)') AS hit_calls,
               count(*) FILTER (WHERE gap IS NULL OR gap > interval '\(ttl)') AS write_calls,
               coalesce(sum(prefix_tokens) FILTER (WHERE gap <= interval '\(ttl)'), 0)::bigint AS hit_prefix_tokens,
               coalesce(sum(prefix_tokens) FILTER (WHERE gap IS NULL OR gap > interval '\(ttl)'), 0)::bigint AS write_prefix_tokens,
               sum(cached_input_tokens)::bigint AS cached_input_tokens
        FROM prefixed
        GROUP BY model, provider, feature
        ORDER BY hit_prefix_tokens DESC, model, provider, feature
        """
}
