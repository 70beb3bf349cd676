import Foundation
import Logging
import Shared

/// Asks the LLM for a short narrative around a report's computed figures. The model is given the figures as the
/// report prints them and may only repeat them: a narrative is kept when every number in it is a number of those
/// figures and it has at most ``maximumWords`` words.
struct ReportNarrator: Sendable {
    let client: ChatCompletionsClient

    static let maximumWords = 120

    /// The narrative for `report`.
    ///
    /// - Throws: ``ChatCompletionsError`` when the call fails, ``LLMAnswerRejected`` when the text has a number that is
    ///   not one of the figures, is empty, or is too long.
    func narrative(for report: OptimizationReport, logger: Logger) async throws -> String {
        let figures = Self.figures(of: report).joined(separator: "\n")
        let reply = try await client.complete([.system(Self.instructions), .user("Figures:\n" + figures)], logger: logger)
        return try Self.accepted(reply, figures: figures)
    }

    /// The reply, trimmed, when it can be used.
    ///
    /// - Throws: ``LLMAnswerRejected`` naming the first number not found among `figures`, or why else it was refused.
    static func accepted(_ reply: String, figures: String) throws -> String {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw LLMAnswerRejected("empty narrative") }
        let words = text.split(whereSeparator: \.isWhitespace).count
        guard words <= maximumWords else { throw LLMAnswerRejected("narrative of \(words) words, over \(maximumWords)") }
        let allowed = Set(numbers(in: figures).map { $0.value })
        if let invented = numbers(in: text).first(where: { !allowed.contains($0.value) }) {
            throw LLMAnswerRejected("narrative number \(invented.text) is not among the figures")
        }
        return text
    }

    /// Every number written in `text` (runs of digits, with `,` or `.` between digit groups), with its value as a
    /// comparable key: `$1,234.50` and `1234.5` have the same value, as do `03` and `3`; `gpt-4o` gives 4, `2025-03`
    /// gives 2025 and 3. Signs are ignored, `1,5` reads as 15, and a run that is not one number (`1.2.3`) is compared
    /// as written without commas.
    static func numbers(in text: String) -> [(text: String, value: String)] {
        text.matches(of: #/\d+(?:[.,]\d+)*/#).map { match in
            let written = String(match.output)
            let digits = written.replacingOccurrences(of: ",", with: "")
            return (text: written, value: Double(digits).map { "\($0)" } ?? digits)
        }
    }

    /// The figures the model may use, one line each, printed as the report prints them.
    static func figures(of report: OptimizationReport) -> [String] {
        let headline = report.headline
        var lines = [
            "goal: \(report.triage.goal.rawValue)",
            "window: \(report.window.requested.label)",
            "calls analysed: \(ReportFormat.integer(Double(report.window.calls)))",
            "days of data: \(String(format: "%.1f", report.window.observedDays))",
            "monthly spend: \(ReportFormat.usd(headline.monthlySpendUSD))",
            "potential monthly savings: \(ReportFormat.usd(headline.potentialMonthlySavingsUSD)) "
                + "(\(ReportFormat.percent(headline.savingsPercent)) of spend)",
            "opportunities found: \(headline.opportunityCount)",
        ]
        for row in report.opportunities.prefix(3) {
            var line = "opportunity \(row.rank): \(row.title); saves \(ReportFormat.usd(row.monthlySavingsUSD)) a month"
            if let gain = row.latencyGainMs, gain > 0 { line += "; about \(ReportFormat.ms(gain)) faster per call" }
            lines.append(line + "; \(row.confidence.rawValue) confidence")
        }
        if !report.plan.actions.isEmpty {
            lines.append(
                "action plan: \(report.plan.actions.count) changes saving \(ReportFormat.usd(report.plan.totalMonthlySavingsUSD)) a month "
                    + "(\(ReportFormat.percent(report.plan.savingsPercent)) of spend)")
        }
        if let budget = report.budget, let month = budget.month {
            lines.append(
                "budget for \(month): projected month-end \(ReportFormat.usd(budget.projectedMonthEndUSD)); "
                    + "budget \(budget.budgetUSD.map(ReportFormat.usd) ?? "none"); verdict \(budget.verdict.rawValue)")
        }
        for row in (report.latency ?? []).prefix(3) {
            lines.append(
                "latency of \(row.dimension == .feature ? "feature " : "")\(row.name): p50 \(ReportFormat.ms(row.p50Ms)), "
                    + "p95 \(ReportFormat.ms(row.p95Ms)), p99 \(ReportFormat.ms(row.p99Ms))")
        }
        return lines
    }

    /// The system message.
    static let instructions = """
        You write the summary paragraph at the top of an optimization report about a company's AI workload (its LLM API \
        calls). Use only the figures you are given, written exactly as given: do not compute, round, convert or add any \
        other number, not even a year, a count or a percentage. Write plain text without Markdown, headings or lists, in \
        at most \(maximumWords) words: what the spend is, what could be saved and which change matters most.
        """
}
