import Foundation

/// A day whose cost jumped above its trailing median.
public struct SpendAnomaly: Codable, Sendable, Equatable {
    /// `YYYY-MM-DD`, UTC.
    public var day: String
    public var costUSD: Double
    /// Median cost of the (up to `anomalyTrailingDays`) days before it.
    public var trailingMedianUSD: Double
    public var priorDays: Int

    public init(day: String, costUSD: Double, trailingMedianUSD: Double, priorDays: Int) {
        self.day = day
        self.costUSD = costUSD
        self.trailingMedianUSD = trailingMedianUSD
        self.priorDays = priorDays
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case day
        case costUSD = "cost_usd"
        case trailingMedianUSD = "trailing_median_usd"
        case priorDays = "prior_days"
    }
}

/// The figures of ``WorkloadAnalysis/spendTrend(daily:options:)``.
public struct SpendTrend: Codable, Sendable, Equatable {
    /// Every day from the first to the last with events, days without events at $0, oldest first.
    public var days: [DailySpend]
    public var anomalies: [SpendAnomaly]
    /// `YYYY-MM` of the last day: the month projected; `nil` without data.
    public var month: String?
    /// Spend in that month's days covered by the data, how many such days, and the month's length.
    public var monthToDateUSD: Double
    public var observedDaysInMonth: Int
    public var daysInMonth: Int
    /// `monthToDateUSD / observedDaysInMonth`, and that rate over the whole month.
    public var averageDailyUSD: Double
    public var projectedMonthEndUSD: Double
    public var budgetUSD: Double?
    /// `projectedMonthEndUSD − budgetUSD`: positive means over budget.
    public var budgetVarianceUSD: Double?

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case days, anomalies, month
        case monthToDateUSD = "month_to_date_usd"
        case observedDaysInMonth = "observed_days_in_month"
        case daysInMonth = "days_in_month"
        case averageDailyUSD = "average_daily_usd"
        case projectedMonthEndUSD = "projected_month_end_usd"
        case budgetUSD = "budget_usd"
        case budgetVarianceUSD = "budget_variance_usd"
    }
}

extension WorkloadAnalysis {
    /// Tool 10: daily spend, anomalous days, and the month-end projection against an optional budget.
    ///
    /// - A day is anomalous when its cost exceeds `anomalyFactor` × the median of the up to `anomalyTrailingDays`
    ///   days before it, given at least `anomalyMinimumPriorDays` of them (days without events count as $0).
    /// - The projection is an average: the month of the last day, its days covered by the data (from the month's
    ///   first day, or the data's first day if later, to the last day), their average daily cost × the month's days.
    /// - Anomalies and a projected overrun of `monthlyBudgetUSD` are opportunities with no dollar savings.
    public static func spendTrend(daily: [DailySpend], options: AnalysisOptions = AnalysisOptions()) -> ToolResult<SpendTrend> {
        let days = CalendarDay.filled(daily)
        let trend = projection(days, anomalies: findAnomalies(days, options: options), budget: options.monthlyBudgetUSD)
        var opportunities = trend.anomalies.map { anomaly in
            Opportunity(
                tool: .spendTrend, kind: .spendAnomaly,
                title: "Investigate spend on \(anomaly.day): \(AnalysisText.usd(anomaly.costUSD)) against a trailing median of "
                    + AnalysisText.usd(anomaly.trailingMedianUSD),
                monthlySavingsUSD: 0, confidence: .medium,
                evidence: [
                    "day": .string(anomaly.day), "cost_usd": .number(anomaly.costUSD),
                    "trailing_median_usd": .number(anomaly.trailingMedianUSD), "prior_days": .count(anomaly.priorDays),
                ]
            )
        }
        if let overrun = budgetOverrun(trend) { opportunities.append(overrun) }
        return ToolResult(tool: .spendTrend, summary: trendSummary(trend), figures: trend, opportunities: opportunities)
    }

    /// The month-end projection for the month of the last day.
    static func projection(_ days: [CalendarDay], anomalies: [SpendAnomaly], budget: Double?) -> SpendTrend {
        var trend = SpendTrend(
            days: days.map(\.spend), anomalies: anomalies, month: nil, monthToDateUSD: 0, observedDaysInMonth: 0, daysInMonth: 0,
            averageDailyUSD: 0, projectedMonthEndUSD: 0, budgetUSD: budget, budgetVarianceUSD: nil
        )
        guard let last = days.last else { return trend }
        let (year, month, _) = CalendarDay.civil(last.number)
        let inMonth = days.filter { $0.number >= CalendarDay.number(year: year, month: month, day: 1) }
        trend.month = String(format: "%04d-%02d", year, month)
        trend.monthToDateUSD = inMonth.reduce(0) { $0 + $1.spend.costUSD }
        trend.observedDaysInMonth = inMonth.count
        trend.daysInMonth = CalendarDay.length(year: year, month: month)
        trend.averageDailyUSD = trend.monthToDateUSD / Double(inMonth.count)
        trend.projectedMonthEndUSD = trend.averageDailyUSD * Double(trend.daysInMonth)
        trend.budgetVarianceUSD = budget.map { trend.projectedMonthEndUSD - $0 }
        return trend
    }

    /// A finding when the projection exceeds the budget; confidence grows with the days observed (7+ medium, 14+ high).
    static func budgetOverrun(_ trend: SpendTrend) -> Opportunity? {
        guard let budget = trend.budgetUSD, let over = trend.budgetVarianceUSD, over > 0, let month = trend.month else { return nil }
        return Opportunity(
            tool: .spendTrend, kind: .budgetOverrun,
            title:
                "Projected \(month) spend \(AnalysisText.usd(trend.projectedMonthEndUSD)) exceeds the "
                + "\(AnalysisText.usd(budget)) budget by \(AnalysisText.usd(over))",
            monthlySavingsUSD: 0, confidence: trend.observedDaysInMonth >= 14 ? .high : trend.observedDaysInMonth >= 7 ? .medium : .low,
            evidence: [
                "month": .string(month), "projected_month_end_usd": .number(trend.projectedMonthEndUSD), "budget_usd": .number(budget),
                "over_by_usd": .number(over), "month_to_date_usd": .number(trend.monthToDateUSD),
                "observed_days_in_month": .count(trend.observedDaysInMonth),
            ]
        )
    }

    /// The days whose cost exceeds `anomalyFactor` × the median of their trailing days.
    static func findAnomalies(_ days: [CalendarDay], options: AnalysisOptions) -> [SpendAnomaly] {
        days.indices.compactMap { index in
            let prior = days[max(0, index - options.anomalyTrailingDays)..<index].map(\.spend.costUSD)
            guard prior.count >= max(1, options.anomalyMinimumPriorDays) else { return nil }
            let median = median(prior)
            let cost = days[index].spend.costUSD
            guard cost > options.anomalyFactor * median else { return nil }
            return SpendAnomaly(day: days[index].spend.day, costUSD: cost, trailingMedianUSD: median, priorDays: prior.count)
        }
    }

    /// The middle value, or the mean of the two middle values; 0 for no values.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// The `tool_result` sentence.
    static func trendSummary(_ trend: SpendTrend) -> String {
        guard let month = trend.month else { return "No spend in the window." }
        var text = "Month-to-date \(month): \(AnalysisText.usd(trend.monthToDateUSD)) over \(trend.observedDaysInMonth) days; "
        text += "projected month-end \(AnalysisText.usd(trend.projectedMonthEndUSD))"
        if let budget = trend.budgetUSD, let variance = trend.budgetVarianceUSD {
            text += ", \(AnalysisText.usd(abs(variance))) \(variance > 0 ? "over" : "under") the \(AnalysisText.usd(budget)) budget"
        }
        return text + "; \(trend.anomalies.count) anomalous day\(trend.anomalies.count == 1 ? "" : "s")."
    }
}

/// A UTC calendar day as a day number (days since 1970-01-01), with the proleptic Gregorian arithmetic of
/// Howard Hinnant's `days_from_civil` / `civil_from_days`: exact, and independent of `Calendar` and time zones.
struct CalendarDay {
    var number: Int
    var spend: DailySpend

    /// Parses `YYYY-MM-DD`.
    static func number(_ text: String) -> Int? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...length(year: year, month: month)).contains(day)
        else { return nil }
        return number(year: year, month: month, day: day)
    }

    /// The day number of a calendar date.
    static func number(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The calendar date of a day number.
    static func civil(_ number: Int) -> (year: Int, month: Int, day: Int) {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days in a month, leap years included.
    static func length(year: Int, month: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// The rows sorted, merged by day, and every missing day between the first and the last added at $0.
    /// Rows whose day does not parse are left out.
    static func filled(_ rows: [DailySpend]) -> [CalendarDay] {
        var byNumber: [Int: DailySpend] = [:]
        for row in rows {
            guard let number = number(row.day) else { continue }
            let sum = byNumber[number]
            byNumber[number] = DailySpend(day: row.day, calls: (sum?.calls ?? 0) + row.calls, costUSD: (sum?.costUSD ?? 0) + row.costUSD)
        }
        guard let first = byNumber.keys.min(), let last = byNumber.keys.max() else { return [] }
        return (first...last).map { number in
            let (year, month, day) = civil(number)
            let text = String(format: "%04d-%02d-%02d", year, month, day)
            return CalendarDay(number: number, spend: byNumber[number] ?? DailySpend(day: text, calls: 0, costUSD: 0))
        }
    }
}
