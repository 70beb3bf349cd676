import Foundation

/// One row of a breakdown: a name (a model, provider, feature, user or day) with its calls, cost and share.
public struct CostShare: Codable, Sendable, Equatable {
    /// `nil` for calls logged without the field (a feature, for instance).
    public var name: String?
    public var calls: Int
    public var costUSD: Double
    /// `costUSD` over the breakdown's total, 0...1.
    public var share: Double

    public init(name: String?, calls: Int, costUSD: Double, share: Double) {
        self.name = name
        self.calls = calls
        self.costUSD = costUSD
        self.share = share
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case name, calls, share
        case costUSD = "cost_usd"
    }
}

/// The figures of ``WorkloadAnalysis/costBreakdown(usage:users:daily:span:options:)``.
public struct CostBreakdown: Codable, Sendable, Equatable {
    public var totalCostUSD: Double
    public var calls: Int
    public var observedDays: Double
    /// The observed cost scaled to 30 days.
    public var monthlyRunRateUSD: Double
    /// By model name (all its providers together), provider and feature: largest first, at most `breakdownLimit` rows.
    public var byModel: [CostShare]
    public var byProvider: [CostShare]
    public var byFeature: [CostShare]
    /// The top users; shares are of the total spend, so they need not add up to 1.
    public var byUser: [CostShare]
    /// Every day with events, oldest first.
    public var byDay: [CostShare]

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case calls
        case totalCostUSD = "total_cost_usd"
        case observedDays = "observed_days"
        case monthlyRunRateUSD = "monthly_run_rate_usd"
        case byModel = "by_model"
        case byProvider = "by_provider"
        case byFeature = "by_feature"
        case byUser = "by_user"
        case byDay = "by_day"
    }
}

/// The figures of ``WorkloadAnalysis/failureWaste(usage:span:options:)``: totals over the window.
public struct FailureWaste: Codable, Sendable, Equatable {
    public var failedCalls: Int
    public var errorCalls: Int
    public var timeoutCalls: Int
    public var failedInputTokens: Int
    public var failedOutputTokens: Int
    public var failedCostUSD: Double
    /// Failed calls over all calls.
    public var failureRate: Double
    public var monthlyWasteUSD: Double
    /// Failed calls and their cost by model name and by feature; shares are of the failed cost.
    public var byModel: [CostShare]
    public var byFeature: [CostShare]

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case failedCalls = "failed_calls"
        case errorCalls = "error_calls"
        case timeoutCalls = "timeout_calls"
        case failedInputTokens = "failed_input_tokens"
        case failedOutputTokens = "failed_output_tokens"
        case failedCostUSD = "failed_cost_usd"
        case failureRate = "failure_rate"
        case monthlyWasteUSD = "monthly_waste_usd"
        case byModel = "by_model"
        case byFeature = "by_feature"
    }
}

/// The figures of ``WorkloadAnalysis/batchEligibility(usage:catalog:span:options:)``.
public struct BatchFigures: Codable, Sendable, Equatable {
    /// Spend of calls logged `interactive = false`, all of it and the part whose offer has a batch API.
    public var nonInteractiveCostUSD: Double
    public var eligibleCostUSD: Double
    public var monthlySavingsUSD: Double

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case nonInteractiveCostUSD = "non_interactive_cost_usd"
        case eligibleCostUSD = "eligible_cost_usd"
        case monthlySavingsUSD = "monthly_savings_usd"
    }
}

extension WorkloadAnalysis {
    /// Tool 1: where the money goes, by model, provider, feature, user and day, with each one's share of the total.
    ///
    /// The total is the sum of `usage`; it has no opportunities.
    public static func costBreakdown(
        usage: [UsageGroup], users: [UserSpend], daily: [DailySpend], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<CostBreakdown> {
        let total = usage.reduce(0) { $0 + $1.costUSD }
        let calls = usage.reduce(0) { $0 + $1.calls }
        let limit = options.breakdownLimit
        let figures = CostBreakdown(
            totalCostUSD: total, calls: calls, observedDays: span.days, monthlyRunRateUSD: total * span.monthlyFactor,
            byModel: shares(usage.map { ($0.model, $0.calls, $0.costUSD) }, total: total, limit: limit),
            byProvider: shares(usage.map { ($0.provider, $0.calls, $0.costUSD) }, total: total, limit: limit),
            byFeature: shares(usage.map { ($0.feature, $0.calls, $0.costUSD) }, total: total, limit: limit),
            byUser: shares(users.map { ($0.userID, $0.calls, $0.costUSD) }, total: total, limit: limit),
            byDay: daily.sorted { $0.day < $1.day }.map {
                CostShare(name: $0.day, calls: $0.calls, costUSD: $0.costUSD, share: $0.costUSD.share(of: total))
            }
        )
        var summary = "Spent \(AnalysisText.usd(total)) on \(calls) calls over \(String(format: "%.1f", span.days)) days"
        summary += " (\(AnalysisText.usd(figures.monthlyRunRateUSD))/month)"
        if let top = figures.byFeature.first {
            summary += "; top feature \(AnalysisText.name(top.name)) (\(AnalysisText.percent(top.share)))"
        }
        if let top = figures.byModel.first { summary += "; top model \(top.name ?? "?") (\(AnalysisText.percent(top.share)))" }
        return ToolResult(tool: .costBreakdown, summary: summary + ".", figures: figures)
    }

    /// Tool 8: tokens and dollars spent on calls that ended in `error` or `timeout`.
    ///
    /// Each slice with failures is an opportunity worth its failed cost (medium confidence: some failures cannot be
    /// avoided, and a retry that succeeds would still be paid for).
    public static func failureWaste(
        usage: [UsageGroup], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<FailureWaste> {
        let failing = usage.filter { $0.failedCalls > 0 }
        let failedCost = failing.reduce(0) { $0 + $1.failedCostUSD }
        let allCalls = usage.reduce(0) { $0 + $1.calls }
        let figures = FailureWaste(
            failedCalls: failing.reduce(0) { $0 + $1.failedCalls }, errorCalls: failing.reduce(0) { $0 + $1.errorCalls },
            timeoutCalls: failing.reduce(0) { $0 + $1.timeoutCalls }, failedInputTokens: failing.reduce(0) { $0 + $1.failedInputTokens },
            failedOutputTokens: failing.reduce(0) { $0 + $1.failedOutputTokens }, failedCostUSD: failedCost,
            failureRate: Double(failing.reduce(0) { $0 + $1.failedCalls }).share(of: Double(allCalls)),
            monthlyWasteUSD: failedCost * span.monthlyFactor,
            byModel: shares(failing.map { ($0.model, $0.failedCalls, $0.failedCostUSD) }, total: failedCost, limit: nil),
            byFeature: shares(failing.map { ($0.feature, $0.failedCalls, $0.failedCostUSD) }, total: failedCost, limit: nil)
        )
        let opportunities = failing.compactMap { group -> Opportunity? in
            let savings = group.failedCostUSD * span.monthlyFactor
            guard savings >= options.minimumMonthlySavingsUSD else { return nil }
            return Opportunity(
                tool: .failureWaste, kind: .failureWaste,
                title: "Cut failed calls of \(group.scope): \(group.failedCalls) of \(group.calls) calls failed",
                monthlySavingsUSD: savings, confidence: .medium,
                evidence: [
                    "error_calls": .count(group.errorCalls), "timeout_calls": .count(group.timeoutCalls),
                    "failure_rate": .number(Double(group.failedCalls).share(of: Double(group.calls))),
                    "failed_input_tokens": .count(group.failedInputTokens), "failed_output_tokens": .count(group.failedOutputTokens),
                    "failed_cost_usd": .number(group.failedCostUSD),
                ],
                scope: group.scope, scopeMonthlySpendUSD: group.costUSD * span.monthlyFactor
            )
        }
        let summary =
            figures.failedCalls == 0
            ? "No failed calls in the window."
            : "\(figures.failedCalls) failed calls (\(AnalysisText.percent(figures.failureRate))) cost \(AnalysisText.usd(failedCost)), "
                + "\(AnalysisText.usd(figures.monthlyWasteUSD))/month."
        return ToolResult(tool: .failureWaste, summary: summary, figures: figures, opportunities: sortedBySavings(opportunities))
    }

    /// Tool 5: non-interactive spend moved to the provider's batch API, at its discount.
    ///
    /// Only calls logged `interactive = false` count (NULL is not assumed batchable), and only where the slice's
    /// offer has a `batchDiscount`. Savings = non-interactive cost × discount.
    public static func batchEligibility(
        usage: [UsageGroup], catalog: [SupplyModel], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<BatchFigures> {
        var eligible = 0.0
        var savings = 0.0
        var opportunities: [Opportunity] = []
        for group in usage where group.nonInteractiveCostUSD > 0 {
            guard let discount = catalog.offer(model: group.model, provider: group.provider)?.batchDiscount, discount > 0 else { continue }
            eligible += group.nonInteractiveCostUSD
            let monthly = group.nonInteractiveCostUSD * discount * span.monthlyFactor
            savings += monthly
            guard monthly >= options.minimumMonthlySavingsUSD else { continue }
            opportunities.append(
                Opportunity(
                    tool: .batchEligibility, kind: .batchAPI,
                    title:
                        "Send the \(group.nonInteractiveCalls) non-interactive calls of \(group.scope) through the batch API "
                        + "(\(AnalysisText.percent(discount)) off)",
                    monthlySavingsUSD: monthly, confidence: .high,
                    evidence: [
                        "non_interactive_calls": .count(group.nonInteractiveCalls), "calls": .count(group.calls),
                        "non_interactive_cost_usd": .number(group.nonInteractiveCostUSD), "batch_discount": .number(discount),
                    ],
                    scope: group.scope, scopeMonthlySpendUSD: group.costUSD * span.monthlyFactor
                ))
        }
        let figures = BatchFigures(
            nonInteractiveCostUSD: usage.reduce(0) { $0 + $1.nonInteractiveCostUSD }, eligibleCostUSD: eligible, monthlySavingsUSD: savings
        )
        let summary =
            figures.nonInteractiveCostUSD == 0
            ? "No spend is logged as non-interactive."
            : "\(AnalysisText.usd(eligible)) of \(AnalysisText.usd(figures.nonInteractiveCostUSD)) non-interactive spend has a batch API: "
                + "\(AnalysisText.usd(savings))/month."
        return ToolResult(tool: .batchEligibility, summary: summary, figures: figures, opportunities: sortedBySavings(opportunities))
    }

    /// Sums rows by name, largest cost first (then by name, `nil` last), with shares of `total`.
    static func shares(_ rows: [(name: String?, calls: Int, cost: Double)], total: Double, limit: Int?) -> [CostShare] {
        var sums: [String?: (calls: Int, cost: Double)] = [:]
        for row in rows {
            let sum = sums[row.name, default: (0, 0)]
            sums[row.name] = (sum.calls + row.calls, sum.cost + row.cost)
        }
        let sorted = sums.map {
            CostShare(name: $0.key, calls: $0.value.calls, costUSD: $0.value.cost, share: $0.value.cost.share(of: total))
        }
        .sorted { lhs, rhs in
            if lhs.costUSD != rhs.costUSD { return lhs.costUSD > rhs.costUSD }
            return (lhs.name ?? "\u{10FFFF}") < (rhs.name ?? "\u{10FFFF}")
        }
        return limit.map { Array(sorted.prefix(max($0, 0))) } ?? sorted
    }

    /// A tool's opportunities, largest savings first (stable for ties).
    static func sortedBySavings(_ opportunities: [Opportunity]) -> [Opportunity] {
        opportunities.enumerated().sorted { lhs, rhs in
            if lhs.element.monthlySavingsUSD != rhs.element.monthlySavingsUSD {
                return lhs.element.monthlySavingsUSD > rhs.element.monthlySavingsUSD
            }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}
