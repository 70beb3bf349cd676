import Foundation

/// The Reporting stage's result: the JSON document of a run, with every figure rounded the way ``markdown()`` prints
/// it (dollars to the cent, percents to a tenth, milliseconds whole), so the two always show the same numbers.
public struct OptimizationReport: Codable, Sendable, Equatable {
    public var title: String
    /// The user's message, as sent (plain text: escape it before rendering as Markdown or HTML).
    public var message: String
    public var triage: TriageResult
    public var window: Window
    public var headline: Headline
    /// A short summary around the headline numbers, written by the optional LLM and kept only when every number in it
    /// is one of the report's figures; `nil` without an LLM or when its text was not usable. Plain text: escape it
    /// before rendering (``markdown()`` does).
    public var narrative: String?
    /// Every ranked opportunity, best first.
    public var opportunities: [OpportunityRow]
    public var plan: ActionPlan
    /// Spend by model name (all its providers), largest first; a last `(other models)` row when the breakdown was cut.
    public var costByModel: [ModelCost]
    /// Latency per model and per feature, when `latency_profile` ran (latency, quality, throughput and general goals).
    public var latency: [LatencyRow]?
    /// The month-end projection, when `spend_trend` ran (budget and general goals).
    public var budget: BudgetStatus?
    public var charts: Charts
    /// Each tool's `tool_result` sentence, in the order the tools ran.
    public var toolSummaries: [ToolSummary]
    /// How the figures were computed, one sentence each.
    public var notes: [String]

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case title, message, triage, window, headline, narrative, opportunities, plan, latency, budget, charts, notes
        case costByModel = "cost_by_model"
        case toolSummaries = "tool_summaries"
    }

    /// The data window: what was asked for and what the events cover.
    public struct Window: Codable, Sendable, Equatable {
        public var requested: TimeRange
        /// First and last event, RFC 3339 in UTC; `nil` without events.
        public var firstEvent: String?
        public var lastEvent: String?
        /// ``ObservedSpan/days`` to a tenth.
        public var observedDays: Double
        public var calls: Int
        /// ``ObservedSpan/monthlyFactor`` to the hundredth.
        public var monthlyFactor: Double

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case requested, calls
            case firstEvent = "first_event"
            case lastEvent = "last_event"
            case observedDays = "observed_days"
            case monthlyFactor = "monthly_factor"
        }
    }

    /// The numbers at the top of the report.
    public struct Headline: Codable, Sendable, Equatable {
        /// The plan's ``ActionPlan/currentMonthlySpendUSD``.
        public var monthlySpendUSD: Double
        /// The sum of the rows' rounded `monthlySavingsUSD`: every opportunity, not only the plan's top ones.
        public var potentialMonthlySavingsUSD: Double
        /// Potential savings over monthly spend, in percent to a tenth; 0 without spend.
        public var savingsPercent: Double
        public var opportunityCount: Int
        /// The best opportunity that saves money or time, if any.
        public var topOpportunity: String?
        public var topOpportunitySavingsUSD: Double?

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case monthlySpendUSD = "monthly_spend_usd"
            case potentialMonthlySavingsUSD = "potential_monthly_savings_usd"
            case savingsPercent = "savings_percent"
            case opportunityCount = "opportunity_count"
            case topOpportunity = "top_opportunity"
            case topOpportunitySavingsUSD = "top_opportunity_savings_usd"
        }
    }

    /// One opportunity: a row of the summary table, with its evidence as printed.
    public struct OpportunityRow: Codable, Sendable, Equatable {
        public var rank: Int
        public var kind: Opportunity.Kind
        public var tool: AnalysisTool
        public var title: String
        public var scope: Opportunity.Scope
        public var monthlySavingsUSD: Double
        public var latencyGainMs: Double?
        public var confidence: Opportunity.Confidence
        public var evidence: [EvidenceRow]

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case rank, kind, tool, title, scope, confidence, evidence
            case monthlySavingsUSD = "monthly_savings_usd"
            case latencyGainMs = "latency_gain_ms"
        }
    }

    /// One fact of an opportunity's evidence, by key, with its value as printed (`$12.50`, `30.0%`, `4,096`).
    public struct EvidenceRow: Codable, Sendable, Equatable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// A model's spend in the window and per month.
    public struct ModelCost: Codable, Sendable, Equatable {
        public var model: String
        public var calls: Int
        public var observedCostUSD: Double
        public var monthlyCostUSD: Double
        public var sharePercent: Double

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case model, calls
            case observedCostUSD = "observed_cost_usd"
            case monthlyCostUSD = "monthly_cost_usd"
            case sharePercent = "share_percent"
        }
    }

    /// Latency percentiles of one model (`model (provider)`) or feature, in whole milliseconds.
    public struct LatencyRow: Codable, Sendable, Equatable {
        public var dimension: LatencyGroup.Dimension
        public var name: String
        public var calls: Int
        public var p50Ms: Double
        public var p95Ms: Double
        public var p99Ms: Double
        public var ttftP95Ms: Double?
        public var outputTokensPerSecond: Double?

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case dimension, name, calls
            case p50Ms = "p50_ms"
            case p95Ms = "p95_ms"
            case p99Ms = "p99_ms"
            case ttftP95Ms = "ttft_p95_ms"
            case outputTokensPerSecond = "output_tokens_per_second"
        }
    }

    /// Projected month-end spend against the budget.
    public struct BudgetStatus: Codable, Sendable, Equatable {
        /// Whether the projection is above the budget.
        public enum Verdict: String, Codable, Sendable {
            case over, under
            case noBudget = "no_budget"
        }

        public var month: String?
        public var monthToDateUSD: Double
        public var observedDaysInMonth: Int
        public var daysInMonth: Int
        public var projectedMonthEndUSD: Double
        public var budgetUSD: Double?
        /// Projected minus budget: positive means over.
        public var varianceUSD: Double?
        public var verdict: Verdict
        public var anomalies: Int

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case month, verdict, anomalies
            case monthToDateUSD = "month_to_date_usd"
            case observedDaysInMonth = "observed_days_in_month"
            case daysInMonth = "days_in_month"
            case projectedMonthEndUSD = "projected_month_end_usd"
            case budgetUSD = "budget_usd"
            case varianceUSD = "variance_usd"
        }
    }

    /// The data behind the report's charts; the UI draws them.
    public struct Charts: Codable, Sendable, Equatable {
        /// Monthly cost per model (the `costByModel` rows): sums to the monthly spend, give or take rounding.
        public var costByModel: [ChartPoint]
        /// Monthly savings of each opportunity that saves money, in rank order.
        public var savingsByOpportunity: [ChartPoint]
        /// Spend per UTC day, oldest first (days without events at $0 when the spend trend ran).
        public var dailySpend: [SeriesPoint]

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case costByModel = "cost_by_model"
            case savingsByOpportunity = "savings_by_opportunity"
            case dailySpend = "daily_spend"
        }
    }

    /// A labelled value of a bar chart.
    public struct ChartPoint: Codable, Sendable, Equatable {
        public var label: String
        public var value: Double

        public init(label: String, value: Double) {
            self.label = label
            self.value = value
        }
    }

    /// A point of a time series: `YYYY-MM-DD` and its value.
    public struct SeriesPoint: Codable, Sendable, Equatable {
        public var date: String
        public var value: Double

        public init(date: String, value: Double) {
            self.date = date
            self.value = value
        }
    }

    /// A tool's `tool_result` sentence.
    public struct ToolSummary: Codable, Sendable, Equatable {
        public var tool: AnalysisTool
        public var summary: String

        public init(tool: AnalysisTool, summary: String) {
            self.tool = tool
            self.summary = summary
        }
    }
}

extension Opportunity.Kind {
    /// A short human name: `Cheaper model`, `Response cache`, ….
    public var label: String {
        switch self {
        case .slowInteractiveFeature: "Slow interactive feature"
        case .exactDuplicates: "Response cache"
        case .promptCaching: "Prompt caching"
        case .batchAPI: "Batch API"
        case .cheaperModel: "Cheaper model"
        case .cheaperProvider: "Cheaper provider"
        case .fasterProvider: "Faster provider"
        case .failureWaste: "Failure waste"
        case .outputHeadroom: "Output headroom"
        case .spendAnomaly: "Spend anomaly"
        case .budgetOverrun: "Budget overrun"
        }
    }
}

extension WorkloadAnalysis {
    /// The tenant's spend scaled to a month: the cost breakdown's run rate when that tool ran, otherwise the span's cost
    /// × its monthly factor. Pass it to ``ActionPlan/plan(_:monthlySpendUSD:monthlyFactor:limit:)``.
    public static func monthlySpendUSD(outcomes: [ToolOutcome], span: ObservedSpan) -> Double {
        ReportInputs(outcomes: outcomes).costBreakdown?.monthlyRunRateUSD ?? span.costUSD * span.monthlyFactor
    }
}

/// The typed figures of the tools a report reads, decoded from their outcomes.
struct ReportInputs {
    var costBreakdown: CostBreakdown?
    var latency: LatencyProfile?
    var trend: SpendTrend?

    init(outcomes: [ToolOutcome]) {
        costBreakdown = Self.figures(.costBreakdown, in: outcomes)
        latency = Self.figures(.latencyProfile, in: outcomes)
        trend = Self.figures(.spendTrend, in: outcomes)
    }

    /// The last outcome of `tool`, decoded; `nil` when the tool did not run.
    static func figures<Figures: Decodable>(_ tool: AnalysisTool, in outcomes: [ToolOutcome]) -> Figures? {
        guard let outcome = outcomes.last(where: { $0.tool == tool }) else { return nil }
        return try? JSONDecoder().decode(Figures.self, from: Data(outcome.figuresJSON.utf8))
    }
}
