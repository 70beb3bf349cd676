import Foundation

/// How one LLM call ended.
public enum CallStatus: String, Codable, Sendable, CaseIterable {
    case ok, error, timeout
}

/// One call from a tenant's AI workload: the unit of `workload_events` and of the ingest API.
/// Token counts are totals for the call; `cachedInputTokens` is the part of `inputTokens` served from the
/// provider's prompt cache; `reasoningTokens` is billed as output.
public struct WorkloadEvent: Sendable, Equatable, Codable {
    public var timestamp: Date
    public var model: String
    public var provider: String
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedInputTokens: Int?
    public var reasoningTokens: Int?
    public var latencyMs: Double
    public var ttftMs: Double?
    public var status: CallStatus
    public var promptHash: String?
    public var prefixHash: String?
    public var prefixTokens: Int?
    public var maxTokens: Int?
    public var feature: String?
    public var user: String?
    public var interactive: Bool?
    /// What the call cost in US dollars; computed from the supply catalog at ingest when the caller omits it.
    public var costUSD: Double?

    public init(
        timestamp: Date, model: String, provider: String, inputTokens: Int, outputTokens: Int,
        cachedInputTokens: Int? = nil, reasoningTokens: Int? = nil, latencyMs: Double, ttftMs: Double? = nil,
        status: CallStatus = .ok, promptHash: String? = nil, prefixHash: String? = nil, prefixTokens: Int? = nil,
        maxTokens: Int? = nil, feature: String? = nil, user: String? = nil, interactive: Bool? = nil, costUSD: Double? = nil
    ) {
        self.timestamp = timestamp
        self.model = model
        self.provider = provider
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.reasoningTokens = reasoningTokens
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.status = status
        self.promptHash = promptHash
        self.prefixHash = prefixHash
        self.prefixTokens = prefixTokens
        self.maxTokens = maxTokens
        self.feature = feature
        self.user = user
        self.interactive = interactive
        self.costUSD = costUSD
    }

    /// The wire names (snake_case), shared by JSON, NDJSON and CSV headers.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case timestamp, model, provider, status, feature, user, interactive
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case reasoningTokens = "reasoning_tokens"
        case latencyMs = "latency_ms"
        case ttftMs = "ttft_ms"
        case promptHash = "prompt_hash"
        case prefixHash = "prefix_hash"
        case prefixTokens = "prefix_tokens"
        case maxTokens = "max_tokens"
        case costUSD = "cost_usd"
    }
}

/// The analysis tools the sub-agents can run (the names that appear in `tool_call` events).
public enum AnalysisTool: String, Codable, Sendable, CaseIterable {
    case costBreakdown = "cost_breakdown"
    case latencyProfile = "latency_profile"
    case duplicateCache = "duplicate_cache"
    case promptCacheFitness = "prompt_cache_fitness"
    case batchEligibility = "batch_eligibility"
    case modelRightSizing = "model_right_sizing"
    case providerArbitrage = "provider_arbitrage"
    case failureWaste = "failure_waste"
    case outputHeadroom = "output_headroom"
    case spendTrend = "spend_trend"
}
