import Foundation

extension WorkloadGenerator {
    /// Each feature's volume weight in one hour of the window: share × hour-of-day shape × weekday or weekend level ×
    /// anomaly multiplier × daily growth.
    static func featureWeights(plan: Plan, hour: Int) -> [Double] {
        let day = hour / 24
        let weekend = isWeekend(unixDay: Int((plan.start.timeIntervalSince1970 / 86_400).rounded(.down)) + day)
        var growth = 1.0
        for _ in 0..<day { growth *= 1 + plan.dailyGrowth }
        return WorkloadCatalog.features.map { spec in
            let level = weekend ? spec.rhythm.weekendLevel : spec.rhythm.weekdayLevel
            let spike = plan.anomalies.first { $0.day == day && $0.feature == spec.name }?.volumeMultiplier ?? 1
            return growth * (spec.shares[plan.profile] ?? 0) * spec.rhythm.hourly[hour % 24] * level * spike
        }
    }

    /// Picks the anomaly days: one in the second half of the window when it has ≥ 7 days, another in the first half
    /// when it has ≥ 14; always weekdays, never the last day.
    static func anomalies(profile: Profile, days: Int, startDay: Int, random: inout Xoshiro256StarStar) -> [Plan.Anomaly] {
        var windows: [ClosedRange<Int>] = []
        if days >= 7 { windows.append(days / 2...days - 2) }
        if days >= 14 { windows.append(1...days / 2 - 2) }
        var anomalies: [Plan.Anomaly] = []
        for (window, spike) in zip(windows, WorkloadCatalog.anomalies(for: profile)) {
            let weekdays = window.filter { !isWeekend(unixDay: startDay + $0) }
            guard !weekdays.isEmpty else { continue }
            let day = weekdays[random.below(weekdays.count)]
            anomalies.append(Plan.Anomaly(
                day: day, start: Date(timeIntervalSince1970: Double(startDay + day) * 86_400),
                feature: spike.feature, volumeMultiplier: spike.multiplier))
        }
        return anomalies.sorted { $0.day < $1.day }
    }

    /// Whether a day (counted from 1970-01-01, a Thursday) is a Saturday or Sunday.
    static func isWeekend(unixDay: Int) -> Bool {
        let weekday = ((unixDay + 4) % 7 + 7) % 7  // 0 = Sunday
        return weekday == 0 || weekday == 6
    }
}
