import Foundation

/// The Actions stage's result: the top opportunities turned into concrete changes, each with its expected impact,
/// risk and a measurable check, plus the no-savings findings to watch.
///
/// Money is rounded to the cent and latency to the millisecond when the plan is made, so every later rendering
/// (JSON, Markdown) prints the same figures.
public struct ActionPlan: Codable, Sendable, Equatable {
    /// How likely a change is to hurt, with its reason in ``Action/riskReason``.
    public enum Risk: String, Codable, Sendable, CaseIterable {
        case low, medium, high
    }

    /// One change (or one finding to watch) derived from one opportunity.
    public struct Action: Codable, Sendable, Equatable {
        /// `change`: saves money or time; `watch`: a finding worth $0 (budget overrun, anomaly, headroom, slow feature).
        public enum Category: String, Codable, Sendable {
            case change, watch
        }

        /// 1-based position in its list (``ActionPlan/actions`` or ``ActionPlan/watch``).
        public var rank: Int
        public var category: Category
        public var kind: Opportunity.Kind
        public var tool: AnalysisTool
        /// The opportunity's title (plain text).
        public var title: String
        public var scope: Opportunity.Scope
        public var confidence: Opportunity.Confidence
        /// What to do, in order, as plain text: names are quoted in backticks but not escaped, so render them as text.
        public var steps: [String]
        /// The same steps as Markdown, every name escaped with ``ReportFormat/markdown(_:)``.
        public var markdownSteps: [String]
        /// Rounded to the cent; 0 for a watch item.
        public var monthlySavingsUSD: Double
        /// Milliseconds saved per affected call, rounded; `nil` when the change does not speed calls up.
        public var latencyGainMs: Double?
        /// The expected effect in one line, e.g. `$1,234.56/month and ~300 ms faster per call`.
        public var impact: String
        public var risk: Risk
        public var riskReason: String
        /// A measurable check that the change worked without harm.
        public var verify: String

        public init(
            rank: Int, category: Category, kind: Opportunity.Kind, tool: AnalysisTool, title: String, scope: Opportunity.Scope,
            confidence: Opportunity.Confidence, steps: [String], markdownSteps: [String], monthlySavingsUSD: Double,
            latencyGainMs: Double?, impact: String, risk: Risk, riskReason: String, verify: String
        ) {
            self.rank = rank
            self.category = category
            self.kind = kind
            self.tool = tool
            self.title = title
            self.scope = scope
            self.confidence = confidence
            self.steps = steps
            self.markdownSteps = markdownSteps
            self.monthlySavingsUSD = monthlySavingsUSD
            self.latencyGainMs = latencyGainMs
            self.impact = impact
            self.risk = risk
            self.riskReason = riskReason
            self.verify = verify
        }

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case rank, category, kind, tool, title, scope, confidence, steps, impact, risk, verify
            case markdownSteps = "markdown_steps"
            case monthlySavingsUSD = "monthly_savings_usd"
            case latencyGainMs = "latency_gain_ms"
            case riskReason = "risk_reason"
        }
    }

    /// Changes, best first (the ranking's order): at most `limit` opportunities that save money or time.
    public var actions: [Action]
    /// Findings worth $0, budget overruns first, then slow features, output headroom and spend anomalies; at most `limit`.
    public var watch: [Action]
    /// The sum of `actions`' rounded savings.
    public var totalMonthlySavingsUSD: Double
    /// The tenant's monthly spend, rounded to the cent.
    public var currentMonthlySpendUSD: Double
    /// `totalMonthlySavingsUSD` over `currentMonthlySpendUSD`, in percent to a tenth; 0 without spend.
    public var savingsPercent: Double
    /// Opportunities that save money or time but did not fit in `limit`, and $0 findings left out of `watch`.
    public var omittedActions: Int
    public var omittedWatch: Int

    public init(
        actions: [Action], watch: [Action], totalMonthlySavingsUSD: Double, currentMonthlySpendUSD: Double, savingsPercent: Double,
        omittedActions: Int = 0, omittedWatch: Int = 0
    ) {
        self.actions = actions
        self.watch = watch
        self.totalMonthlySavingsUSD = totalMonthlySavingsUSD
        self.currentMonthlySpendUSD = currentMonthlySpendUSD
        self.savingsPercent = savingsPercent
        self.omittedActions = omittedActions
        self.omittedWatch = omittedWatch
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case actions, watch
        case totalMonthlySavingsUSD = "total_monthly_savings_usd"
        case currentMonthlySpendUSD = "current_monthly_spend_usd"
        case savingsPercent = "savings_percent"
        case omittedActions = "omitted_actions"
        case omittedWatch = "omitted_watch"
    }

    /// Turns ranked opportunities into a plan.
    ///
    /// - Parameters:
    ///   - ranked: The Optimizations stage's ranking; `superseded` alternatives are left out.
    ///   - monthlySpendUSD: The tenant's spend scaled to a month (``WorkloadAnalysis/monthlySpendUSD(outcomes:span:)``).
    ///   - monthlyFactor: ``ObservedSpan/monthlyFactor``, to state call counts per month.
    ///   - limit: How many changes, and how many watch items, to keep (default 5).
    public static func plan(_ ranked: RankedOpportunities, monthlySpendUSD: Double, monthlyFactor: Double, limit: Int = 5) -> ActionPlan {
        let limit = max(0, limit)
        let changes = ranked.opportunities.filter { $0.monthlySavingsUSD > 0 || ($0.latencyGainMs ?? 0) > 0 }
        let findings = ranked.opportunities.filter { !($0.monthlySavingsUSD > 0 || ($0.latencyGainMs ?? 0) > 0) }
            .enumerated().sorted { lhs, rhs in
                let (left, right) = (watchOrder(lhs.element.kind), watchOrder(rhs.element.kind))
                return left != right ? left < right : lhs.offset < rhs.offset
            }.map(\.element)
        let actions = changes.prefix(limit).enumerated().map {
            action(for: $0.element, rank: $0.offset + 1, category: .change, monthlyFactor: monthlyFactor, planTotal: nil)
        }
        let total = ReportFormat.cents(actions.reduce(0) { $0 + $1.monthlySavingsUSD })
        let watch = findings.prefix(limit).enumerated().map {
            action(for: $0.element, rank: $0.offset + 1, category: .watch, monthlyFactor: monthlyFactor, planTotal: total)
        }
        let spend = ReportFormat.cents(monthlySpendUSD)
        return ActionPlan(
            actions: actions, watch: watch, totalMonthlySavingsUSD: total, currentMonthlySpendUSD: spend,
            savingsPercent: spend > 0 ? ReportFormat.tenths(total / spend * 100) : 0,
            omittedActions: changes.count - actions.count, omittedWatch: findings.count - watch.count
        )
    }

    /// Watch items by urgency: a budget overrun first, spend anomalies last.
    static func watchOrder(_ kind: Opportunity.Kind) -> Int {
        switch kind {
        case .budgetOverrun: 0
        case .slowInteractiveFeature: 1
        case .outputHeadroom: 2
        case .spendAnomaly: 3
        default: 4
        }
    }

    /// One opportunity as an action, its steps written twice (plain and Markdown) from the same template.
    static func action(
        for opportunity: Opportunity, rank: Int, category: Action.Category, monthlyFactor: Double, planTotal: Double?
    ) -> Action {
        let context = ActionContext(opportunity: opportunity, monthlyFactor: monthlyFactor, planTotal: planTotal)
        let savings = category == .watch ? 0 : ReportFormat.cents(opportunity.monthlySavingsUSD)
        let gain = opportunity.latencyGainMs.flatMap { $0 > 0 ? ReportFormat.whole($0) : nil }
        let (risk, reason) = context.risk()
        return Action(
            rank: rank, category: category, kind: opportunity.kind, tool: opportunity.tool, title: opportunity.title,
            scope: opportunity.scope, confidence: opportunity.confidence, steps: context.steps(.plain),
            markdownSteps: context.steps(.markdown), monthlySavingsUSD: savings, latencyGainMs: gain,
            impact: impact(savings: savings, latencyGainMs: gain, category: category), risk: risk, riskReason: reason,
            verify: context.verify()
        )
    }

    /// `$12.00/month and ~300 ms faster per call`, or `no direct savings` for a watch item.
    static func impact(savings: Double, latencyGainMs: Double?, category: Action.Category) -> String {
        var parts: [String] = []
        if savings > 0 { parts.append("\(ReportFormat.usd(savings))/month") }
        if let latencyGainMs { parts.append("~\(ReportFormat.ms(latencyGainMs)) faster per call") }
        return parts.isEmpty ? "no direct savings" : parts.joined(separator: " and ")
    }
}
