import Foundation

/// One change a tenant could make, with what it is worth: the unit the `optimize` pipeline ranks and reports.
///
/// Dollar figures are monthly: the observed window scaled to 30 days (see ``ObservedSpan/monthlyFactor``).
/// Findings that save no money (output headroom, a slow feature, a spend anomaly, a budget overrun) are opportunities
/// too, with `monthlySavingsUSD == 0`, so one list carries everything the report shows.
public struct Opportunity: Codable, Sendable, Equatable {
    /// What kind of change it is; one tool can produce several kinds.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case slowInteractiveFeature = "slow_interactive_feature"
        case exactDuplicates = "exact_duplicates"
        case promptCaching = "prompt_caching"
        case batchAPI = "batch_api"
        case cheaperModel = "cheaper_model"
        case cheaperProvider = "cheaper_provider"
        case fasterProvider = "faster_provider"
        case failureWaste = "failure_waste"
        case outputHeadroom = "output_headroom"
        case spendAnomaly = "spend_anomaly"
        case budgetOverrun = "budget_overrun"

        /// Kinds that move the same traffic to another model or provider: alternatives, never added together.
        public var isSwitch: Bool { self == .cheaperModel || self == .cheaperProvider || self == .fasterProvider }
    }

    /// How far the estimate can be trusted.
    public enum Confidence: String, Codable, Sendable, CaseIterable {
        case low, medium, high
    }

    /// The traffic an opportunity concerns; `nil` fields mean "all" (or, for `feature`, calls logged without one
    /// when the other fields are set: a slice of `(feature, model, provider)` keeps the feature as logged).
    public struct Scope: Codable, Sendable, Hashable, CustomStringConvertible {
        public var feature: String?
        public var model: String?
        public var provider: String?

        public init(feature: String? = nil, model: String? = nil, provider: String? = nil) {
            self.feature = feature
            self.model = model
            self.provider = provider
        }

        /// `feature "x" on model (provider)`, leaving out what is not set.
        public var description: String {
            var parts: [String] = []
            if let feature { parts.append("feature \"\(feature)\"") }
            switch (model, provider) {
            case (let model?, let provider?): parts.append("\(model) (\(provider))")
            case (let model?, nil): parts.append(model)
            case (nil, let provider?): parts.append("provider \(provider)")
            case (nil, nil): break
            }
            return parts.isEmpty ? "all traffic" : parts.joined(separator: " on ")
        }
    }

    public var tool: AnalysisTool
    public var kind: Kind
    /// One line for the report, e.g. `Serve repeated prompts of feature "faq" from a response cache`.
    public var title: String
    public var monthlySavingsUSD: Double
    /// Milliseconds saved per affected call, when the change also speeds calls up; negative means slower.
    public var latencyGainMs: Double?
    public var confidence: Confidence
    /// The few facts the estimate rests on.
    public var evidence: [String: EvidenceValue]
    public var scope: Scope
    /// Monthly spend of the scope's traffic, when the tool knows it; the ranking uses it to price other changes
    /// after exact duplicates are removed.
    public var scopeMonthlySpendUSD: Double?

    public init(
        tool: AnalysisTool, kind: Kind, title: String, monthlySavingsUSD: Double, latencyGainMs: Double? = nil,
        confidence: Confidence, evidence: [String: EvidenceValue] = [:], scope: Scope = Scope(), scopeMonthlySpendUSD: Double? = nil
    ) {
        self.tool = tool
        self.kind = kind
        self.title = title
        self.monthlySavingsUSD = monthlySavingsUSD
        self.latencyGainMs = latencyGainMs
        self.confidence = confidence
        self.evidence = evidence
        self.scope = scope
        self.scopeMonthlySpendUSD = scopeMonthlySpendUSD
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case tool, kind, title, confidence, evidence, scope
        case monthlySavingsUSD = "monthly_savings_usd"
        case latencyGainMs = "latency_gain_ms"
        case scopeMonthlySpendUSD = "scope_monthly_spend_usd"
    }
}

/// One fact of an opportunity's evidence: a string or a number (JSON `"text"` or `12.5`).
public enum EvidenceValue: Codable, Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByFloatLiteral,
    ExpressibleByIntegerLiteral, CustomStringConvertible
{
    case string(String)
    case number(Double)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }

    /// A count as a number.
    public static func count(_ value: Int) -> EvidenceValue { .number(Double(value)) }

    /// The number, when this is one.
    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .string(let text): text
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .number(let value): try container.encode(value)
        }
    }
}

/// What one analysis tool returns: the sentence for its `tool_result` event, its figures, and its opportunities.
public struct ToolResult<Figures: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var tool: AnalysisTool
    /// One sentence, e.g. `3 features repeat prompts: $120.00/month avoidable with a response cache`.
    public var summary: String
    public var figures: Figures
    /// In the tool's own order (largest first); ``WorkloadAnalysis/rank(_:)`` merges the tools' lists.
    public var opportunities: [Opportunity]

    public init(tool: AnalysisTool, summary: String, figures: Figures, opportunities: [Opportunity] = []) {
        self.tool = tool
        self.summary = summary
        self.figures = figures
        self.opportunities = opportunities
    }
}

/// Thresholds of the analysis tools; the defaults are the documented rules.
public struct AnalysisOptions: Codable, Sendable, Equatable {
    /// The tenant's monthly budget in US dollars, when it has one (the spend trend compares against it).
    public var monthlyBudgetUSD: Double?
    /// Opportunities that save money are reported only from this many dollars a month (default 1).
    public var minimumMonthlySavingsUSD: Double
    /// Output headroom is flagged when the average `max_tokens` is at least this many times the p95 output (default 4).
    public var headroomRatio: Double
    /// A day is anomalous when its cost exceeds this many times the trailing median (default 2).
    public var anomalyFactor: Double
    /// Days in the trailing window of the anomaly median (default 7).
    public var anomalyTrailingDays: Int
    /// Prior days needed before a day can be anomalous (default 3).
    public var anomalyMinimumPriorDays: Int
    /// The slowest interactive feature is flagged when its p95 latency is at least this (default 2,000 ms).
    public var slowInteractiveP95Ms: Double
    /// Rows kept in each cost-breakdown list (default 10; days are all kept).
    public var breakdownLimit: Int

    public init(
        monthlyBudgetUSD: Double? = nil, minimumMonthlySavingsUSD: Double = 1, headroomRatio: Double = 4, anomalyFactor: Double = 2,
        anomalyTrailingDays: Int = 7, anomalyMinimumPriorDays: Int = 3, slowInteractiveP95Ms: Double = 2000, breakdownLimit: Int = 10
    ) {
        self.monthlyBudgetUSD = monthlyBudgetUSD
        self.minimumMonthlySavingsUSD = minimumMonthlySavingsUSD
        self.headroomRatio = headroomRatio
        self.anomalyFactor = anomalyFactor
        self.anomalyTrailingDays = anomalyTrailingDays
        self.anomalyMinimumPriorDays = anomalyMinimumPriorDays
        self.slowInteractiveP95Ms = slowInteractiveP95Ms
        self.breakdownLimit = breakdownLimit
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case monthlyBudgetUSD = "monthly_budget_usd"
        case minimumMonthlySavingsUSD = "minimum_monthly_savings_usd"
        case headroomRatio = "headroom_ratio"
        case anomalyFactor = "anomaly_factor"
        case anomalyTrailingDays = "anomaly_trailing_days"
        case anomalyMinimumPriorDays = "anomaly_minimum_prior_days"
        case slowInteractiveP95Ms = "slow_interactive_p95_ms"
        case breakdownLimit = "breakdown_limit"
    }
}

/// The analysis tools: pure functions from aggregates (and the supply catalog) to a ``ToolResult``.
///
/// Every tool is deterministic and does no I/O: the Data stage loads the aggregates with one SQL query each
/// (the `sql` of each aggregate type), and the tools only compute.
public enum WorkloadAnalysis {}
