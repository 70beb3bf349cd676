import Foundation

extension OptimizationReport {
    /// The report as Markdown, printing exactly the document's rounded figures; every user-controlled text (the message,
    /// titles, feature, model and provider names, tool summaries, the narrative) goes through ``ReportFormat/markdown(_:)``.
    /// A narrative, when present, comes first after the header, under `## Summary`.
    public func markdown() -> String {
        var sections = [header()]
        if let narrative { sections.append("## Summary\n\n" + Self.escape(narrative)) }
        sections += [opportunitiesSection(), planSection()]
        if !plan.watch.isEmpty { sections.append(watchSection()) }
        if let latency { sections.append(latencySection(latency)) }
        if let budget { sections.append(budgetSection(budget)) }
        sections.append(costSection())
        sections.append(methodSection())
        return sections.joined(separator: "\n\n") + "\n"
    }

    static func escape(_ text: String) -> String { ReportFormat.markdown(text) }

    /// `1 change`, `3 changes`.
    static func count(_ number: Int, _ singular: String, _ plural: String) -> String {
        "\(ReportFormat.integer(Double(number))) \(number == 1 ? singular : plural)"
    }

    func header() -> String {
        var lines = ["# \(Self.escape(title))", "", "> \(Self.escape(message))", ""]
        lines.append("- Monthly spend: **\(ReportFormat.usd(headline.monthlySpendUSD))**")
        let found = Self.count(headline.opportunityCount, "opportunity", "opportunities")
        lines.append(
            "- Potential savings: **\(ReportFormat.usd(headline.potentialMonthlySavingsUSD))/month** "
                + "(**\(ReportFormat.percent(headline.savingsPercent))** of spend) from \(found)")
        if let top = headline.topOpportunity, let savings = headline.topOpportunitySavingsUSD {
            lines.append("- Top opportunity: \(Self.escape(top)) (**\(ReportFormat.usd(savings))/month**)")
        }
        lines.append("- Goal: \(triage.goal.rawValue) (tools: \(Self.escape(triage.tools.map(\.rawValue).joined(separator: ", "))))")
        var coverage = "- Window: \(Self.escape(window.requested.label))"
        if let first = window.firstEvent, let last = window.lastEvent {
            coverage +=
                "; data from \(first) to \(last) (\(String(format: "%.1f", window.observedDays)) days, "
                + "\(ReportFormat.integer(Double(window.calls))) calls)"
        } else {
            coverage += "; no events in the window"
        }
        lines.append(coverage)
        return lines.joined(separator: "\n")
    }

    func opportunitiesSection() -> String {
        guard !opportunities.isEmpty else { return "## Opportunities\n\nNo opportunities found in this window." }
        var lines = ["## Opportunities", "", "| # | Opportunity | Monthly savings | Confidence |", "|---:|---|---:|---|"]
        for row in opportunities { lines.append(Self.tableRow(row)) }
        lines.append("| | **Total** | **\(ReportFormat.usd(headline.potentialMonthlySavingsUSD))** | |")
        return lines.joined(separator: "\n")
    }

    /// `| 1 | title | $12.00 | high |`; a latency gain follows the dollars.
    public static func tableRow(_ row: OpportunityRow) -> String {
        var savings = ReportFormat.usd(row.monthlySavingsUSD)
        if let gain = row.latencyGainMs, gain > 0 { savings += " (~\(ReportFormat.ms(gain)) faster per call)" }
        return "| \(row.rank) | \(escape(row.title)) | \(savings) | \(row.confidence.rawValue) |"
    }

    func planSection() -> String {
        var lines = ["## Action plan", ""]
        if plan.actions.isEmpty {
            lines.append("No change saves money or time in this window.")
        } else {
            let changes = plan.actions.count == 1 ? "The top change saves" : "The top \(plan.actions.count) changes save"
            lines.append(
                "\(changes) **\(ReportFormat.usd(plan.totalMonthlySavingsUSD))/month** (**\(ReportFormat.percent(plan.savingsPercent))** "
                    + "of \(ReportFormat.usd(plan.currentMonthlySpendUSD)) monthly spend).")
            if plan.omittedActions > 0 {
                let omitted = Self.count(plan.omittedActions, "smaller opportunity", "smaller opportunities")
                lines += ["", "Not in the plan: \(omitted) (see the table)."]
            }
        }
        for action in plan.actions { lines += ["", actionSection(action)] }
        return lines.joined(separator: "\n")
    }

    func watchSection() -> String {
        var lines = ["## Watch", "", "Findings without direct savings."]
        for action in plan.watch { lines += ["", actionSection(action)] }
        if plan.omittedWatch > 0 {
            lines += ["", "Not listed: \(Self.count(plan.omittedWatch, "more finding", "more findings")) (see the table)."]
        }
        return lines.joined(separator: "\n")
    }

    /// One action: steps, impact, risk, check, and its opportunity's evidence.
    func actionSection(_ action: ActionPlan.Action) -> String {
        var lines = ["### \(action.rank). \(Self.escape(action.title))", ""]
        if action.category == .change { lines.append("- **Impact:** \(action.impact)") }
        lines.append("- **Risk:** \(action.risk.rawValue): \(action.riskReason)")
        lines.append("- **Verify:** \(action.verify)")
        lines.append("- **Confidence:** \(action.confidence.rawValue)")
        lines += ["", "Steps:", ""]
        lines += action.markdownSteps.enumerated().map { "\($0.offset + 1). \($0.element)" }
        let row = opportunities.first { $0.kind == action.kind && $0.scope == action.scope && $0.title == action.title }
        if let evidence = row?.evidence, !evidence.isEmpty {
            lines += ["", "| Evidence | Value |", "|---|---:|"]
            lines += evidence.map { "| \($0.key.replacingOccurrences(of: "_", with: " ")) | \(Self.escape($0.value)) |" }
        }
        return lines.joined(separator: "\n")
    }

    func latencySection(_ rows: [LatencyRow]) -> String {
        guard !rows.isEmpty else { return "## Latency\n\nNo successful calls to profile." }
        var lines = [
            "## Latency", "", "| Model or feature | Calls | p50 | p95 | p99 | TTFT p95 | Tokens/s |", "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows {
            let name = row.dimension == .feature ? "feature \(Self.escape(row.name))" : Self.escape(row.name)
            let ttft = row.ttftP95Ms.map(ReportFormat.ms) ?? "n/a"
            let speed = row.outputTokensPerSecond.map(ReportFormat.integer) ?? "n/a"
            lines.append(
                "| \(name) | \(ReportFormat.integer(Double(row.calls))) | \(ReportFormat.ms(row.p50Ms)) | \(ReportFormat.ms(row.p95Ms)) | "
                    + "\(ReportFormat.ms(row.p99Ms)) | \(ttft) | \(speed) |")
        }
        return lines.joined(separator: "\n")
    }

    func budgetSection(_ status: BudgetStatus) -> String {
        guard let month = status.month else { return "## Budget\n\nNo spend in the window to project." }
        var lines = [
            "## Budget", "", "| Month | Month to date | Days observed | Projected month-end | Budget |", "|---|---:|---:|---:|---:|",
            "| \(month) | \(ReportFormat.usd(status.monthToDateUSD)) | \(status.observedDaysInMonth) of \(status.daysInMonth) | "
                + "\(ReportFormat.usd(status.projectedMonthEndUSD)) | \(status.budgetUSD.map(ReportFormat.usd) ?? "none") |",
            "",
        ]
        switch (status.verdict, status.varianceUSD, status.budgetUSD) {
        case (.over, let variance?, let budget?):
            lines.append("Projected to exceed the \(ReportFormat.usd(budget)) budget by **\(ReportFormat.usd(variance))**.")
        case (.under, let variance?, let budget?):
            lines.append("Projected to stay under the \(ReportFormat.usd(budget)) budget by **\(ReportFormat.usd(-variance))**.")
        default:
            lines.append("No budget given: name one in the request (\"stay under a $5,000 budget\") to compare.")
        }
        if status.anomalies > 0 { lines += ["", "\(Self.count(status.anomalies, "day", "days")) spent far above the trailing median."] }
        return lines.joined(separator: "\n")
    }

    func costSection() -> String {
        guard !costByModel.isEmpty else { return "## Cost by model\n\nNo cost breakdown in this run." }
        var lines = ["## Cost by model", "", "| Model | Calls | Observed cost | Monthly | Share |", "|---|---:|---:|---:|---:|"]
        for row in costByModel {
            lines.append(
                "| \(Self.escape(row.model)) | \(ReportFormat.integer(Double(row.calls))) | \(ReportFormat.usd(row.observedCostUSD)) | "
                    + "\(ReportFormat.usd(row.monthlyCostUSD)) | \(ReportFormat.percent(row.sharePercent)) |")
        }
        return lines.joined(separator: "\n")
    }

    func methodSection() -> String {
        var lines = ["## Method", ""]
        lines += notes.map { "- \(Self.escape($0))" }
        if !toolSummaries.isEmpty {
            lines += ["", "Tool results:", ""]
            lines += toolSummaries.map { "- \(Self.escape($0.tool.rawValue)): \(Self.escape($0.summary))" }
        }
        return lines.joined(separator: "\n")
    }
}
