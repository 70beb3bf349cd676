import Foundation

/// What a user asked Netra to optimize for; it decides which tools the later stages run.
public enum Goal: String, Codable, Sendable, CaseIterable {
    case cost, latency, quality, throughput, budget, general

    /// The goals that have keywords, in tie-break order: when two goals match as many keywords, the earlier wins.
    /// Budget comes first because a budget question is also about cost, and latency before cost because a message
    /// naming a latency term is rarely only about money.
    public static let priority: [Goal] = [.budget, .latency, .throughput, .quality, .cost]

    /// Keywords in the message's words: a trailing `*` makes a word a stem (`latenc*` matches "latency" and
    /// "latencies"); several words must follow each other (`stay under`). `general` has none.
    public var keywords: [String] {
        switch self {
        case .budget:
            [
                "budget*", "forecast*", "month end", "end of month", "end of the month", "stay under", "stay below", "stay within",
                "keep under", "keep below", "overspend*", "run rate", "projection*", "projected", "on track", "allowance",
            ]
        case .latency:
            [
                "latenc*", "slow*", "p50", "p90", "p95", "p99", "p999", "ttft", "time to first token", "fast*", "speed*",
                "respons* time*", "lag*", "delay*", "tail",
            ]
        case .throughput:
            [
                "throughput", "rate limit*", "tokens per second", "tps", "rpm", "tpm", "scal*", "concurren*", "capacity", "queue*",
                "backlog*", "requests per", "parallel*", "429",
            ]
        case .quality:
            [
                "quality", "accura*", "hallucinat*", "error*", "fail*", "timeout*", "timed out", "retry", "retries", "reliab*",
                "wrong", "incorrect", "regress*", "flaky", "truncat*",
            ]
        case .cost:
            [
                "cost*", "cheap*", "spend*", "spent", "sav*", "expensiv*", "pric*", "bill*", "invoice*", "money", "waste*", "wasting",
                "afford*", "overpa*",
            ]
        case .general: []
        }
    }

    /// The tools the goal runs, in ``AnalysisTool`` declaration order; every set includes `cost_breakdown` (the report's
    /// spend and cost-by-model figures come from it) and no two goals share a set.
    ///
    /// - cost: breakdown, duplicates, prompt caching, batch, right-sizing, arbitrage, failure waste.
    /// - budget: the cost tools and the spend trend.
    /// - latency: breakdown, latency profile, duplicates (cache hits return at once), arbitrage (faster providers),
    ///   output headroom.
    /// - quality: breakdown, latency profile, failure waste, output headroom.
    /// - throughput: breakdown, latency profile, batch, output headroom.
    /// - general: all ten.
    public var tools: [AnalysisTool] {
        let chosen: Set<AnalysisTool> =
            switch self {
            case .cost: Self.costTools
            case .budget: Self.costTools.union([.spendTrend])
            case .latency: [.costBreakdown, .latencyProfile, .duplicateCache, .providerArbitrage, .outputHeadroom]
            case .quality: [.costBreakdown, .latencyProfile, .failureWaste, .outputHeadroom]
            case .throughput: [.costBreakdown, .latencyProfile, .batchEligibility, .outputHeadroom]
            case .general: Set(AnalysisTool.allCases)
            }
        return AnalysisTool.allCases.filter(chosen.contains)
    }

    private static let costTools: Set<AnalysisTool> = [
        .costBreakdown, .duplicateCache, .promptCacheFitness, .batchEligibility, .modelRightSizing, .providerArbitrage, .failureWaste,
    ]
}

/// The window of data a run analyses: `from` inclusive, `to` exclusive (the Data stage's `$2` and `$3`).
///
/// Encoded as RFC 3339 strings with milliseconds (like `JSONText.timestamp`), whatever the encoder's date strategy, so a
/// checkpoint decodes with a plain `JSONDecoder`; decoding also accepts times without fractional seconds.
public struct TimeRange: Codable, Sendable, Equatable {
    public var from: Date
    public var to: Date
    /// How the message put it, e.g. `last 7 days`, `this month (2025-03)`.
    public var label: String
    /// `true` when the message named no time range and the default (last 30 days) applies.
    public var isDefault: Bool

    public init(from: Date, to: Date, label: String, isDefault: Bool = false) {
        self.from = from
        self.to = to
        self.label = label
        self.isDefault = isDefault
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case from, to, label
        case isDefault = "is_default"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        from = try Self.date(container, .from)
        to = try Self.date(container, .to)
        label = try container.decode(String.self, forKey: .label)
        isDefault = try container.decode(Bool.self, forKey: .isDefault)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ReportFormat.timestamp(from), forKey: .from)
        try container.encode(ReportFormat.timestamp(to), forKey: .to)
        try container.encode(label, forKey: .label)
        try container.encode(isDefault, forKey: .isDefault)
    }

    private static func date(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = (try? fractional.parse(text)) ?? (try? Date(text, strategy: .iso8601)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not an RFC 3339 time: \(text)")
        }
        return date
    }
}

/// What triage read in the user's message: the goal, the entities it names, and the tools to run.
public struct TriageResult: Codable, Sendable, Equatable {
    /// The entities a message names.
    public struct Entities: Codable, Sendable, Equatable {
        /// Catalog model names, in order of first mention; a family word ("sonnet", "llama 70b") names every model
        /// of the family that fits the words after it.
        public var models: [String]
        /// The tenant's feature names, as the tenant spells them, in order of first mention.
        public var features: [String]
        public var timeRange: TimeRange
        /// The first money amount ("$5,000", "$5k", "5000 dollars", "budget of 12000"), in US dollars.
        public var budgetUSD: Double?

        public init(models: [String] = [], features: [String] = [], timeRange: TimeRange, budgetUSD: Double? = nil) {
            self.models = models
            self.features = features
            self.timeRange = timeRange
            self.budgetUSD = budgetUSD
        }

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case models, features
            case timeRange = "time_range"
            case budgetUSD = "budget_usd"
        }
    }

    /// Which path chose the goal: the optional LLM or the keyword rules.
    public enum Classifier: String, Codable, Sendable {
        case llm, rules
    }

    public var goal: Goal
    /// The goal's keywords found in the message, as ``Goal/keywords`` spells them (without `*`), plus `$amount` when
    /// a money amount counted towards `budget`.
    public var matchedKeywords: [String]
    public var entities: Entities
    /// ``Goal/tools`` of the goal.
    public var tools: [AnalysisTool]
    /// Which path chose ``goal``; the Triage stage always sets it, ``WorkloadAnalysis/triage(_:catalog:features:now:)``
    /// leaves it `nil`, and results stored without it decode as `nil`.
    public var classifier: Classifier?

    public init(goal: Goal, matchedKeywords: [String], entities: Entities, tools: [AnalysisTool], classifier: Classifier? = nil) {
        self.goal = goal
        self.matchedKeywords = matchedKeywords
        self.entities = entities
        self.tools = tools
        self.classifier = classifier
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case goal, entities, tools, classifier
        case matchedKeywords = "matched_keywords"
    }

    /// This result with `goal` chosen by `classifier`: that goal's tools and its own keywords found in `message`; the
    /// entities (models, features, time range, budget) stay as the rules read them.
    ///
    /// - Parameters:
    ///   - goal: The chosen goal; when it is the rules' goal, only `classifier` changes.
    ///   - classifier: The path that chose it.
    ///   - message: The message this result was read from.
    public func classified(as goal: Goal, by classifier: Classifier, message: String) -> TriageResult {
        var result = self
        result.classifier = classifier
        guard goal != self.goal else { return result }
        result.goal = goal
        result.tools = goal.tools
        result.matchedKeywords = goal.matchedKeywords(in: TriageText.words(message), budgetUSD: entities.budgetUSD)
        return result
    }
}

extension Goal {
    /// The goal's ``keywords`` found in `words` (without `*`), plus `$amount` for `budget` when the message names money.
    func matchedKeywords(in words: [String], budgetUSD: Double?) -> [String] {
        var matched = keywords.filter { TriageText.contains(words, keyword: $0) }.map { $0.replacingOccurrences(of: "*", with: "") }
        if self == .budget, let budgetUSD { matched.append("$" + ReportFormat.plain(budgetUSD)) }
        return matched
    }
}

extension WorkloadAnalysis {
    /// Reads a user's message with deterministic rules.
    ///
    /// - Goal: each goal scores the number of its distinct ``Goal/keywords`` found among the message's words; a money
    ///   amount adds 1 to `budget`. The highest score wins, ties go by ``Goal/priority``, and no match at all means
    ///   `general`. Only the winner's tools run: sets are never merged, so different questions get different reports.
    /// - Entities: see ``TriageResult/Entities``; time ranges are UTC calendar days relative to `now`: `last|past N
    ///   hours|days|weeks|months`, `last|past week`, `today`, `yesterday`, `this week` (from Monday), `this month`,
    ///   `last month` (the previous calendar month); the first one named wins; default: the 30 days before `now`.
    ///
    /// - Parameters:
    ///   - catalog: The offers whose model names can be recognised.
    ///   - features: The tenant's feature names.
    ///   - now: The end of relative time ranges.
    public static func triage(_ message: String, catalog: [SupplyModel], features: [String], now: Date) -> TriageResult {
        let words = TriageText.words(message)
        let budget = TriageText.money(in: message)
        var best: (goal: Goal, matched: [String]) = (.general, [])
        for goal in Goal.priority {
            let matched = goal.matchedKeywords(in: words, budgetUSD: budget)
            if matched.count > best.matched.count { best = (goal, matched) }
        }
        let entities = TriageResult.Entities(
            models: TriageText.models(in: message, catalog: catalog), features: TriageText.features(in: message, features: features),
            timeRange: TriageText.timeRange(words, now: now), budgetUSD: budget
        )
        return TriageResult(goal: best.goal, matchedKeywords: best.matched, entities: entities, tools: best.goal.tools)
    }
}
