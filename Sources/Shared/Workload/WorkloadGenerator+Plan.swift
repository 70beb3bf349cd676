import Foundation

extension WorkloadGenerator {
    /// The product whose traffic is simulated; every profile has all eight features, in different proportions.
    public enum Profile: String, Sendable, CaseIterable, Codable {
        /// A SaaS app: chat and search in business hours, pipelines behind them, a nightly summarise job (default).
        case saas
        /// Back-office pipelines: classify, summarise and extract make three quarters of the calls.
        case batch
        /// A chat product: chat, chat-lite and search-answer make almost four fifths of the calls.
        case chat
    }

    /// What the generated workload contains: the features, their models, and the planted opportunities that the
    /// analysis tools should find. Every rate here is a rate per call of the named feature.
    ///
    /// Planted facts (all profiles; every feature appears in every profile):
    /// - **Right-sizing**: `classify` returns a 1–8 token label but runs on `gpt-4o` (tier 4); inputs are 120–1,200 tokens.
    /// - **Output headroom**: `classify` sends `max_tokens` 4,096 for those ≤ 8 output tokens. Every other feature's
    ///   `max_tokens` is under 4× its p95 output (~5× its median), and outputs never exceed `max_tokens`.
    /// - **Duplicates**: 20% of `summarize` calls (``duplicateRate``) repeat one of the last 1,024 summarize prompts
    ///   exactly (same `prompt_hash` and `input_tokens`). Otherwise a prompt repeats only in a retry of a failed call.
    /// - **Prompt caching**: every `extract` call starts with one of two shared prefixes of 1,152 or 2,304 tokens
    ///   (``prefixTokens``, included in `input_tokens`); the prefix hashes change daily, so each is reused many times a
    ///   day, minutes apart at ≥ 30 extract calls an hour. `cached_input_tokens` is 0 there: caching is not used.
    ///   `chat` carries a 640-token system-prompt prefix (``shortPrefixTokens``), below the 1,024-token minimum: a
    ///   negative control. No other feature has a prefix.
    /// - **Failures and retries**: each feature fails 2.5–4% of the time, ~3% overall: `error` after 0.15–1.65 s, or
    ///   `timeout` at 30 s (interactive) or 60 s (background), with 0 output tokens and no `ttft_ms`. 90% of failures
    ///   (``retryProbability``) are retried 1–8 s after an error returns or 0.5–2 s after a timeout, up to
    ///   ``maxAttempts`` in all, with the same prompt, prefix, input, user and feature (at the next event time after that).
    /// - **Batch eligibility**: `summarize` is non-interactive and runs ~78% in 00:00–06:00 UTC (``nightlyHours``);
    ///   `classify`, `extract`, `code-review`, `translate` are non-interactive too. `chat`, `chat-lite`, `search-answer`
    ///   are interactive and follow business hours (peak 13:00–16:00 UTC, weekends at 45% of a weekday).
    /// - **Anomalies**: on ``anomalies`` (weekdays; one when `days` ≥ 7, two when ≥ 14) one feature's volume is
    ///   multiplied (e.g. `code-review` ×14: a CI loop), so that day's spend is 2.5× the median day or more.
    /// - **Latency**: see ``models``; bigger models have a slower first token and stream slower.
    /// - **Trend**: volume grows ``dailyGrowth`` (1%) a day. Users are `user-0001`… with a skewed (quadratic) mix.
    public struct Plan: Sendable, Equatable {
        /// One product feature and how its calls look.
        public struct Feature: Sendable, Equatable {
            public let name: String
            public let model: String
            public let provider: String
            public let interactive: Bool
            /// Share of the profile's baseline calls (before anomaly days and retries).
            public let share: Double
            public let inputTokens: ClosedRange<Int>
            /// Output tokens of successful calls (failed calls report 0).
            public let outputTokens: ClosedRange<Int>
            public let maxTokens: Int?
            public let errorRate: Double
            public let timeoutRate: Double
        }

        /// How fast a model answers: `ttft ≈ ttftBaseMs + prefillMsPerKToken × input/1000`,
        /// `latency ≈ ttft + output / outputTokensPerSecond`, each with multiplicative jitter.
        public struct Model: Sendable, Equatable {
            public let name: String
            public let provider: String
            public let ttftBaseMs: Double
            public let prefillMsPerKToken: Double
            public let outputTokensPerSecond: Double
        }

        /// A day on which one feature's volume is multiplied.
        public struct Anomaly: Sendable, Equatable {
            /// Index of the day from ``Plan/start``.
            public let day: Int
            /// The UTC midnight that starts the day.
            public let start: Date
            public let feature: String
            public let volumeMultiplier: Double
        }

        public let profile: Profile
        public let seed: UInt64
        public let events: Int
        public let days: Int
        /// The first event is at or after `start`, a UTC midnight.
        public let start: Date
        /// Every event is before `end`: the generator's `end` rounded down to a UTC midnight.
        public let end: Date
        public let features: [Feature]
        public let models: [Model]
        /// Number of distinct user ids (`user-0001` …).
        public let userCount: Int
        public let anomalies: [Anomaly]

        public let rightSizingFeature = "classify"
        public let headroomFeature = "classify"
        public let duplicateFeature = "summarize"
        public let duplicateRate = WorkloadCatalog.duplicateRate
        public let prefixFeature = "extract"
        public let prefixTokens = WorkloadCatalog.extractPrefixTokens
        public let shortPrefixFeature = "chat"
        public let shortPrefixTokens = WorkloadCatalog.chatPrefixTokens
        public let nightlyFeature = "summarize"
        public let nightlyHours = 0..<6
        public let retryProbability = 0.9
        public let maxAttempts = 3
        public let interactiveTimeoutMs = 30_000.0
        public let backgroundTimeoutMs = 60_000.0
        public let dailyGrowth = 0.01

        /// The feature named `name`.
        public func feature(_ name: String) -> Feature? { features.first { $0.name == name } }
    }
}

extension WorkloadGenerator.Plan {
    /// The plan of a window of `days` whole UTC days ending at the midnight that starts `endDay` (days since 1970).
    init(profile: WorkloadGenerator.Profile, seed: UInt64, events: Int, days: Int, endDay: Int, anomalies: [Anomaly]) {
        self.init(
            profile: profile, seed: seed, events: events, days: days,
            start: Date(timeIntervalSince1970: Double(endDay - days) * 86_400), end: Date(timeIntervalSince1970: Double(endDay) * 86_400),
            features: WorkloadCatalog.features.map { Feature($0, profile: profile) }, models: WorkloadCatalog.models,
            userCount: WorkloadCatalog.userCount(for: profile), anomalies: anomalies)
    }
}

extension WorkloadGenerator.Plan.Feature {
    /// The public description of a feature's generation parameters.
    init(_ spec: FeatureSpec, profile: WorkloadGenerator.Profile) {
        let model = WorkloadCatalog.models[spec.model]
        let prefix = (spec.prefixTokens?.min() ?? 0, spec.prefixTokens?.max() ?? 0)
        let translated = max(1, Int(Double(spec.input.range.lowerBound) * 0.8))...min(6_000, Int(Double(spec.input.range.upperBound) * 1.3))
        self.init(
            name: spec.name, model: model.name, provider: model.provider, interactive: spec.interactive, share: spec.shares[profile] ?? 0,
            inputTokens: (spec.input.range.lowerBound + prefix.0)...(spec.input.range.upperBound + prefix.1),
            outputTokens: spec.outputFollowsInput ? translated : spec.output.range,
            maxTokens: spec.maxTokens, errorRate: spec.errorRate, timeoutRate: spec.timeoutRate)
    }
}

/// The shape of a token count: log-normal around `median`, clamped to `range`.
struct TokenShape {
    let median: Double, spread: Double, range: ClosedRange<Int>
}

/// When in the day and week a feature's calls happen.
enum Rhythm {
    case business, pipeline, nightly

    /// Relative volume by UTC hour, normalised to a mean of 1.
    var hourly: [Double] {
        switch self {
        case .business: Self.businessHours
        case .pipeline: Self.pipelineHours
        case .nightly: Self.nightlyHours
        }
    }

    /// Volume on a weekday and a weekend day; five of one and two of the other average to 1.
    var weekdayLevel: Double { 7 / (5 + 2 * weekendRatio) }
    var weekendLevel: Double { weekendRatio * weekdayLevel }

    private var weekendRatio: Double {
        switch self {
        case .business: 0.45
        case .pipeline: 0.7
        case .nightly: 1
        }
    }

    private static let businessRaw: [Double] = [
        0.35, 0.3, 0.25, 0.22, 0.22, 0.25, 0.35, 0.55, 0.8, 1.05, 1.3, 1.5,
        1.65, 1.8, 1.9, 1.9, 1.8, 1.65, 1.45, 1.25, 1.0, 0.8, 0.6, 0.45,
    ]
    private static let businessHours = normalised(businessRaw)
    private static let pipelineHours = normalised(businessRaw.map { 0.6 + 0.4 * $0 })
    private static let nightlyHours = normalised([3.2, 3.6, 3.6, 3.4, 3.0, 2.2] + Array(repeating: 0.3, count: 18))

    private static func normalised(_ raw: [Double]) -> [Double] {
        let mean = raw.reduce(0, +) / Double(raw.count)
        return raw.map { $0 / mean }
    }
}

/// One feature's generation parameters.
struct FeatureSpec {
    let name: String
    let model: Int
    let interactive: Bool
    let shares: [WorkloadGenerator.Profile: Double]
    let input: TokenShape
    let output: TokenShape
    let maxTokens: Int?
    let errorRate: Double, timeoutRate: Double
    let rhythm: Rhythm
    var duplicateRate = 0.0
    /// Tokens of each shared prefix template; `nil` when calls carry no prefix.
    var prefixTokens: [Int]? = nil
    /// Whether the call reports `cached_input_tokens` (as 0: caching unused).
    var reportsCachedTokens = false
    /// Whether output length follows input length (translation) instead of `output`.
    var outputFollowsInput = false
}

enum WorkloadCatalog {
    static let duplicateRate = 0.20
    static let extractPrefixTokens = [1_152, 2_304]
    static let chatPrefixTokens = 640

    static let models: [WorkloadGenerator.Plan.Model] = [
        .init(name: "gpt-4o", provider: "openai", ttftBaseMs: 420, prefillMsPerKToken: 35, outputTokensPerSecond: 85),
        .init(name: "gpt-4o-mini", provider: "openai", ttftBaseMs: 300, prefillMsPerKToken: 20, outputTokensPerSecond: 120),
        .init(name: "gpt-4.1", provider: "openai", ttftBaseMs: 520, prefillMsPerKToken: 40, outputTokensPerSecond: 75),
        .init(name: "claude-sonnet-4", provider: "anthropic", ttftBaseMs: 850, prefillMsPerKToken: 45, outputTokensPerSecond: 60),
        .init(name: "claude-3-5-haiku", provider: "anthropic", ttftBaseMs: 450, prefillMsPerKToken: 25, outputTokensPerSecond: 105),
        .init(name: "gemini-2.0-flash", provider: "google", ttftBaseMs: 280, prefillMsPerKToken: 15, outputTokensPerSecond: 190),
        .init(name: "llama-3.1-70b-instruct", provider: "together", ttftBaseMs: 380, prefillMsPerKToken: 35, outputTokensPerSecond: 95),
        .init(name: "llama-3.1-8b-instruct", provider: "together", ttftBaseMs: 140, prefillMsPerKToken: 10, outputTokensPerSecond: 260),
    ]

    static func model(_ name: String) -> Int { models.firstIndex { $0.name == name }! }

    static let features: [FeatureSpec] = [
        FeatureSpec(
            name: "chat", model: model("claude-sonnet-4"), interactive: true, shares: [.saas: 0.22, .batch: 0.04, .chat: 0.42],
            input: TokenShape(median: 1_800, spread: 0.7, range: 60...24_000), output: TokenShape(median: 320, spread: 0.6, range: 8...1_024),
            maxTokens: 1_024, errorRate: 0.025, timeoutRate: 0.008, rhythm: .business, prefixTokens: [chatPrefixTokens]),
        FeatureSpec(
            name: "chat-lite", model: model("llama-3.1-8b-instruct"), interactive: true, shares: [.saas: 0.10, .batch: 0.02, .chat: 0.22],
            input: TokenShape(median: 700, spread: 0.5, range: 60...6_000), output: TokenShape(median: 180, spread: 0.6, range: 4...512),
            maxTokens: 512, errorRate: 0.025, timeoutRate: 0.006, rhythm: .business),
        FeatureSpec(
            name: "search-answer", model: model("gemini-2.0-flash"), interactive: true, shares: [.saas: 0.08, .batch: 0.02, .chat: 0.14],
            input: TokenShape(median: 3_200, spread: 0.4, range: 800...12_000), output: TokenShape(median: 220, spread: 0.5, range: 20...800),
            maxTokens: 800, errorRate: 0.023, timeoutRate: 0.006, rhythm: .business),
        FeatureSpec(
            name: "classify", model: model("gpt-4o"), interactive: false, shares: [.saas: 0.20, .batch: 0.28, .chat: 0.08],
            input: TokenShape(median: 380, spread: 0.35, range: 120...1_200), output: TokenShape(median: 3, spread: 0.5, range: 1...8),
            maxTokens: 4_096, errorRate: 0.02, timeoutRate: 0.005, rhythm: .pipeline),
        FeatureSpec(
            name: "summarize", model: model("gpt-4o-mini"), interactive: false, shares: [.saas: 0.14, .batch: 0.28, .chat: 0.05],
            input: TokenShape(median: 4_200, spread: 0.5, range: 600...30_000), output: TokenShape(median: 260, spread: 0.4, range: 60...600),
            maxTokens: 700, errorRate: 0.025, timeoutRate: 0.006, rhythm: .nightly, duplicateRate: duplicateRate),
        FeatureSpec(
            name: "extract", model: model("claude-3-5-haiku"), interactive: false, shares: [.saas: 0.12, .batch: 0.20, .chat: 0.04],
            input: TokenShape(median: 900, spread: 0.6, range: 100...8_000), output: TokenShape(median: 340, spread: 0.5, range: 40...1_500),
            maxTokens: 1_500, errorRate: 0.023, timeoutRate: 0.006, rhythm: .pipeline, prefixTokens: extractPrefixTokens, reportsCachedTokens: true),
        FeatureSpec(
            name: "code-review", model: model("gpt-4.1"), interactive: false, shares: [.saas: 0.06, .batch: 0.06, .chat: 0.02],
            input: TokenShape(median: 7_500, spread: 0.6, range: 800...60_000), output: TokenShape(median: 700, spread: 0.5, range: 80...3_000),
            maxTokens: 3_072, errorRate: 0.025, timeoutRate: 0.015, rhythm: .business),
        FeatureSpec(
            name: "translate", model: model("llama-3.1-70b-instruct"), interactive: false, shares: [.saas: 0.08, .batch: 0.10, .chat: 0.03],
            input: TokenShape(median: 650, spread: 0.5, range: 50...5_000), output: TokenShape(median: 0, spread: 0, range: 1...6_000),
            maxTokens: nil, errorRate: 0.025, timeoutRate: 0.006, rhythm: .pipeline, outputFollowsInput: true),
    ]

    /// The features whose volume spikes on the first and second anomaly day, and by how much.
    static func anomalies(for profile: WorkloadGenerator.Profile) -> [(feature: String, multiplier: Double)] {
        switch profile {
        case .saas: [("code-review", 14), ("chat", 5)]
        case .batch: [("code-review", 14), ("extract", 10)]
        case .chat: [("chat", 5), ("code-review", 30)]
        }
    }

    static func userCount(for profile: WorkloadGenerator.Profile) -> Int {
        switch profile {
        case .saas: 300
        case .batch: 150
        case .chat: 500
        }
    }
}
