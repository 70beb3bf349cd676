import Foundation

extension OptimizationReport {
    /// Assembles the report from what the earlier stages produced.
    ///
    /// - Parameters:
    ///   - triage: The Triage stage's result (goal, entities, tools).
    ///   - span: What the events of the window cover (the Data stage's ``WorkloadAggregates/span``).
    ///   - outcomes: Every tool's outcome; the report reads the figures of `cost_breakdown`, `latency_profile` and
    ///     `spend_trend` when present, and each outcome's summary.
    ///   - ranked: The Optimizations stage's ranking.
    ///   - plan: The Actions stage's plan; its monthly spend is the headline's.
    ///   - message: The user's message.
    ///   - catalog: The supply catalog the tools priced with (the notes give its price dates).
    public static func build(
        triage: TriageResult, span: ObservedSpan, outcomes: [ToolOutcome], ranked: RankedOpportunities, plan: ActionPlan,
        message: String, catalog: [SupplyModel]
    ) -> OptimizationReport {
        let inputs = ReportInputs(outcomes: outcomes)
        let rows = ranked.opportunities.enumerated().map { opportunityRow($0.element, rank: $0.offset + 1) }
        let costByModel = modelCosts(inputs.costBreakdown, monthlyFactor: span.monthlyFactor)
        let report = OptimizationReport(
            title: "Netra optimization report: \(triage.goal.rawValue)", message: message, triage: triage,
            window: window(triage.entities.timeRange, span: span), headline: headline(rows, plan: plan), opportunities: rows,
            plan: plan, costByModel: costByModel, latency: inputs.latency.map(latencyRows),
            budget: inputs.trend.map { budgetStatus($0, budget: triage.entities.budgetUSD) },
            charts: Charts(
                costByModel: costByModel.map { ChartPoint(label: $0.model, value: $0.monthlyCostUSD) },
                savingsByOpportunity: rows.filter { $0.monthlySavingsUSD > 0 }.map {
                    ChartPoint(label: "\($0.rank). \($0.kind.label): \($0.scope)", value: $0.monthlySavingsUSD)
                },
                dailySpend: dailySpend(inputs)
            ),
            toolSummaries: outcomes.map { ToolSummary(tool: $0.tool, summary: $0.summary) },
            notes: notes(span: span, ranked: ranked, catalog: catalog, tools: outcomes.map(\.tool))
        )
        return report
    }

    static func window(_ requested: TimeRange, span: ObservedSpan) -> Window {
        Window(
            requested: requested, firstEvent: span.firstEvent.map(ReportFormat.timestamp),
            lastEvent: span.lastEvent.map(ReportFormat.timestamp), observedDays: ReportFormat.tenths(span.days), calls: span.calls,
            monthlyFactor: (span.monthlyFactor * 100).rounded() / 100
        )
    }

    static func headline(_ rows: [OpportunityRow], plan: ActionPlan) -> Headline {
        let potential = ReportFormat.cents(rows.reduce(0) { $0 + $1.monthlySavingsUSD })
        let spend = plan.currentMonthlySpendUSD
        let top = rows.first { $0.monthlySavingsUSD > 0 || ($0.latencyGainMs ?? 0) > 0 }
        return Headline(
            monthlySpendUSD: spend, potentialMonthlySavingsUSD: potential,
            savingsPercent: spend > 0 ? ReportFormat.tenths(potential / spend * 100) : 0, opportunityCount: rows.count,
            topOpportunity: top?.title, topOpportunitySavingsUSD: top?.monthlySavingsUSD
        )
    }

    static func opportunityRow(_ opportunity: Opportunity, rank: Int) -> OpportunityRow {
        OpportunityRow(
            rank: rank, kind: opportunity.kind, tool: opportunity.tool, title: opportunity.title, scope: opportunity.scope,
            monthlySavingsUSD: ReportFormat.cents(opportunity.monthlySavingsUSD),
            latencyGainMs: opportunity.latencyGainMs.map(ReportFormat.whole), confidence: opportunity.confidence,
            evidence: opportunity.evidence.keys.sorted().compactMap { key in
                opportunity.evidence[key].map { EvidenceRow(key: key, value: evidenceText(key: key, $0)) }
            }
        )
    }

    /// An evidence value as printed: dollars for `*_usd`, percents for shares, rates and discounts, milliseconds for
    /// `*_ms`, prices per million tokens for `*_per_mtok`, `×` for ratios, grouped integers for counts.
    static func evidenceText(key: String, _ value: EvidenceValue) -> String {
        guard let number = value.number else { return value.description }
        if key.hasSuffix("_usd") { return ReportFormat.usd(number) }
        if key.hasSuffix("_per_mtok") { return "$\(ReportFormat.plain((number * 10_000).rounded() / 10_000))/M tokens" }
        if key.hasSuffix("_ms") { return ReportFormat.ms(number) }
        if key == "ratio" { return String(format: "%.1f×", number) }
        if key.hasSuffix("share") || key.hasSuffix("rate") || key.hasSuffix("discount") { return ReportFormat.percent(number * 100) }
        if number.rounded() == number { return ReportFormat.integer(number) }
        return String(format: "%.2f", number)
    }

    /// Model rows from the cost breakdown, with an `(other models)` row for what the breakdown's limit cut.
    static func modelCosts(_ breakdown: CostBreakdown?, monthlyFactor: Double) -> [ModelCost] {
        guard let breakdown else { return [] }
        var rows = breakdown.byModel.map { share in
            ModelCost(
                model: share.name ?? "(unknown)", calls: share.calls, observedCostUSD: ReportFormat.cents(share.costUSD),
                monthlyCostUSD: ReportFormat.cents(share.costUSD * monthlyFactor), sharePercent: ReportFormat.tenths(share.share * 100)
            )
        }
        let listedCost = breakdown.byModel.reduce(0) { $0 + $1.costUSD }
        let listedCalls = breakdown.byModel.reduce(0) { $0 + $1.calls }
        let rest = breakdown.totalCostUSD - listedCost
        if ReportFormat.cents(rest) > 0 || breakdown.calls > listedCalls {
            rows.append(
                ModelCost(
                    model: "(other models)", calls: breakdown.calls - listedCalls, observedCostUSD: ReportFormat.cents(rest),
                    monthlyCostUSD: ReportFormat.cents(rest * monthlyFactor),
                    sharePercent: ReportFormat.tenths(rest.share(of: breakdown.totalCostUSD) * 100)
                ))
        }
        return rows
    }

    /// Models first (slowest p95 first), then features, as the latency profile lists them.
    static func latencyRows(_ profile: LatencyProfile) -> [LatencyRow] {
        (profile.byModel + profile.byFeature).map { group in
            let name: String =
                switch group.dimension {
                case .model: "\(group.model ?? "?") (\(group.provider ?? "?"))"
                case .feature: group.feature ?? "(no feature)"
                }
            return LatencyRow(
                dimension: group.dimension, name: name, calls: group.calls, p50Ms: ReportFormat.whole(group.latencyP50Ms),
                p95Ms: ReportFormat.whole(group.latencyP95Ms), p99Ms: ReportFormat.whole(group.latencyP99Ms),
                ttftP95Ms: group.ttftP95Ms.map(ReportFormat.whole),
                outputTokensPerSecond: group.outputTokensPerSecond.map(ReportFormat.whole)
            )
        }
    }

    /// The trend's projection; the budget is the trend's own, or triage's when the trend ran without one.
    static func budgetStatus(_ trend: SpendTrend, budget fallback: Double?) -> BudgetStatus {
        let projected = ReportFormat.cents(trend.projectedMonthEndUSD)
        let budget = (trend.budgetUSD ?? fallback).map(ReportFormat.cents)
        let variance = budget.map { ReportFormat.cents(projected - $0) }
        return BudgetStatus(
            month: trend.month, monthToDateUSD: ReportFormat.cents(trend.monthToDateUSD), observedDaysInMonth: trend.observedDaysInMonth,
            daysInMonth: trend.daysInMonth, projectedMonthEndUSD: projected, budgetUSD: budget, varianceUSD: variance,
            verdict: variance.map { $0 > 0 ? .over : .under } ?? .noBudget, anomalies: trend.anomalies.count
        )
    }

    /// The spend trend's zero-filled days, or the cost breakdown's days when the trend did not run.
    static func dailySpend(_ inputs: ReportInputs) -> [SeriesPoint] {
        if let trend = inputs.trend { return trend.days.map { SeriesPoint(date: $0.day, value: ReportFormat.cents($0.costUSD)) } }
        return (inputs.costBreakdown?.byDay ?? []).map { SeriesPoint(date: $0.name ?? "", value: ReportFormat.cents($0.costUSD)) }
    }

    /// How the numbers were made.
    static func notes(span: ObservedSpan, ranked: RankedOpportunities, catalog: [SupplyModel], tools: [AnalysisTool]) -> [String] {
        var notes = [
            "Monthly figures are the observed window (\(String(format: "%.1f", ReportFormat.tenths(span.days))) days) scaled to "
                + "30 days (×\(String(format: "%.2f", span.monthlyFactor))).",
            "Overlapping savings on one slice are not added twice: a response cache comes first, then at most one model or "
                + "provider switch, and batch and prompt caching are priced on what remains.",
        ]
        let dates = catalog.map(\.priceDate).sorted()
        if let first = dates.first, let last = dates.last {
            notes.append(
                "Prices are list prices from the shipped supply catalog, dated \(first == last ? first : "\(first) to \(last)") "
                    + "(each price's date and source: GET /api/supply/catalog).")
        }
        if !ranked.superseded.isEmpty {
            notes.append("\(ranked.superseded.count) alternative switches lost to a better switch of the same traffic and are not counted.")
        }
        notes.append("Findings without savings (budget, anomalies, output headroom, slow features) are listed to watch, at $0.")
        notes.append("Tools run: \(tools.map(\.rawValue).joined(separator: ", ")).")
        return notes
    }
}
