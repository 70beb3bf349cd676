import Foundation

/// Finds the next firing of one expression in one time zone.
///
/// The search runs on the wall clock (`local` values are seconds, or minutes, since 1970-01-01 00:00 on the zone's wall
/// clock), then maps the matching wall-clock time to an instant with ``ZoneClock/resolve(_:)``. Wall-clock order is
/// instant order except for the second pass through a repeated hour, which ``repeatedFiring(after:lastYear:)`` checks.
struct CronSearch {
    let expression: CronExpression
    let zone: ZoneClock

    /// The first firing strictly after `date` (Unix seconds), as Unix seconds.
    func next(after date: Double) -> Int? {
        let instant = Int(date.rounded(.down))
        let local = instant + zone.offset(at: instant)
        let lastYear = Civil.date(days: local.floorDiv(86_400)).year + CronExpression.searchYears
        var best: Int?
        var minute = local.floorDiv(60)
        while let match = expression.nextMatch(atOrAfter: minute, through: lastYear) {
            if let firing = firstFiring(local: match * 60), Double(firing) > date {
                best = firing
                break
            }
            minute = match + 1
        }
        if !expression.isFixedTime, let repeated = repeatedFiring(after: date, lastYear: lastYear), repeated < best ?? .max {
            best = repeated
        }
        return best
    }

    /// The instant a matching wall-clock time fires at, other than the second pass through a repeated hour.
    private func firstFiring(local: Int) -> Int? {
        switch zone.resolve(local) {
        case .unique(let instant): instant
        case .repeated(let first, _): first
        case .skipped(let gapEnd): expression.isFixedTime ? gapEnd : nil
        }
    }

    /// The earliest firing after `date` in the second pass through a wall-clock hour that clocks going back within a
    /// day of `date` repeat (only schedules that are not fixed-time fire there).
    private func repeatedFiring(after date: Double, lastYear: Int) -> Int? {
        let instant = Int(date.rounded(.down))
        let window = (instant - 86_400, instant + 86_400)
        let before = zone.offset(at: window.0), after = zone.offset(at: window.1)
        guard before > after else { return nil }
        let change = ZoneClock.firstInstant(in: window) { zone.offset(at: $0) != before }
        let repeatedEnd = change + before
        var minute = max(change + after, instant + after).ceilDiv(60)
        while let match = expression.nextMatch(atOrAfter: minute, through: lastYear), match * 60 < repeatedEnd {
            let firing = match * 60 - after
            if Double(firing) > date { return firing }
            minute = match + 1
        }
        return nil
    }
}

extension CronExpression {
    /// The first matching wall-clock minute at or after `start` (minutes since 1970-01-01 00:00 local), in a year no
    /// later than `lastYear`. Skips months, days and hours that cannot match.
    func nextMatch(atOrAfter start: Int, through lastYear: Int) -> Int? {
        var (year, month, day) = Civil.date(days: start.floorDiv(1_440))
        var (hour, minute) = (start.floorMod(1_440) / 60, start.floorMod(60))
        while year <= lastYear {
            guard let matchedMonth = months.next(atOrAfter: month) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0)
                continue
            }
            if matchedMonth != month { (month, day, hour, minute) = (matchedMonth, 1, 0, 0) }
            let monthLength = Civil.daysIn(month: month, year: year)
            while day <= monthLength, !matchesDay(year: year, month: month, day: day) { (day, hour, minute) = (day + 1, 0, 0) }
            guard day <= monthLength else {
                (month, day, hour, minute) = (month + 1, 1, 0, 0)
                continue
            }
            guard let matchedHour = hours.next(atOrAfter: hour) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            if matchedHour != hour { (hour, minute) = (matchedHour, 0) }
            guard let matchedMinute = minutes.next(atOrAfter: minute) else {
                (hour, minute) = (hour + 1, 0)
                continue
            }
            return Civil.days(year: year, month: month, day: day) * 1_440 + hour * 60 + matchedMinute
        }
        return nil
    }

    /// The Vixie rule: both day fields must match, unless neither starts with `*`, when either may.
    func matchesDay(year: Int, month: Int, day: Int) -> Bool {
        let dayOfMonth = daysOfMonth.contains(day)
        let dayOfWeek = daysOfWeek.contains(Civil.weekday(days: Civil.days(year: year, month: month, day: day)))
        return daysOfMonth.isWildcard || daysOfWeek.isWildcard ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
    }
}

/// The UTC offsets of one time zone, in whole seconds.
struct ZoneClock {
    /// The instants a wall-clock time denotes.
    enum Resolution: Equatable {
        case unique(Int)
        /// Clocks went back, so the time occurred twice.
        case repeated(first: Int, second: Int)
        /// Clocks went forward over the time; `gapEnd` is the first instant after the gap.
        case skipped(gapEnd: Int)
    }

    let zone: TimeZone

    init(_ zone: TimeZone) { self.zone = zone }

    /// The UTC offset in effect at `instant` (Unix seconds).
    func offset(at instant: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))) }

    /// Maps a wall-clock time (local seconds) to instants, assuming at most one offset change within a day of it.
    ///
    /// Any instant with that wall clock lies within 14 hours of `local` read as UTC, so the offsets a day either side
    /// are the only candidates: each one that maps back to itself is an occurrence.
    func resolve(_ local: Int) -> Resolution {
        let early = offset(at: local - 86_400), late = offset(at: local + 86_400)
        let first = local - early, second = local - late
        let firstFits = offset(at: first) == early
        if early == late, firstFits { return .unique(first) }
        switch (firstFits, offset(at: second) == late) {
        case (true, true): return .repeated(first: min(first, second), second: max(first, second))
        case (true, false): return .unique(first)
        case (false, true): return .unique(second)
        case (false, false):
            return .skipped(gapEnd: Self.firstInstant(in: (local - 86_400, local + 86_400)) { $0 + offset(at: $0) > local })
        }
    }

    /// The smallest instant in `(range.0, range.1]` for which `predicate` holds, given it is false at `range.0`, true
    /// at `range.1` and changes once in between.
    static func firstInstant(in range: (Int, Int), where predicate: (Int) -> Bool) -> Int {
        var (low, high) = range
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if predicate(middle) { high = middle } else { low = middle }
        }
        return high
    }
}

/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), after Howard Hinnant's
/// `days_from_civil` and `civil_from_days`.
enum Civil {
    /// The day number of a date.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear.floorDiv(400)
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day number.
    static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted.floorDiv(146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
    }

    /// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
    static func weekday(days: Int) -> Int { (days + 4).floorMod(7) }

    /// 28 … 31.
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension Int {
    fileprivate func floorDiv(_ divisor: Int) -> Int { (self - floorMod(divisor)) / divisor }
    fileprivate func floorMod(_ divisor: Int) -> Int { (self % divisor + divisor) % divisor }
    fileprivate func ceilDiv(_ divisor: Int) -> Int { -(-self).floorDiv(divisor) }
}
