import Foundation

/// A five-field cron schedule: `minute hour day-of-month month day-of-week`.
///
/// Syntax (Vixie cron, as in cronie and Kubernetes CronJob):
/// - Each field is a comma-separated list of items. An item is `*`, a value `a`, a range `a-b`, or one of those with a
///   step: `*/n`, `a-b/n`, `a/n` (`a/n` means `a-max/n`). Ranges must not be reversed; steps run from 1 to the size of
///   the field's range.
/// - Bounds: minute 0–59, hour 0–23, day-of-month 1–31, month 1–12 or `JAN`–`DEC`, day-of-week 0–7 or `SUN`–`SAT`,
///   where 0 and 7 are both Sunday (`SUN` ending a range also means 7, so `MON-SUN` is every day). Names are
///   case-insensitive.
/// - Macros: `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly` (`0 0 * * 0`), `@daily` and
///   `@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`).
/// - A day matches when day-of-month and day-of-week both match, except that when neither field starts with `*` a day
///   matches if EITHER does (`0 0 1,15 * MON` runs on the 1st, the 15th and every Monday). As in Vixie cron, a field
///   that starts with `*` counts as unrestricted even with a step: `0 0 */2 * MON` runs on Mondays that are odd days.
///
/// Firing times are computed by ``next(after:in:)`` in an IANA time zone; see there for the daylight-saving rules.
///
/// Two expressions are equal when they match the same values and agree on which fields start with `*` (that changes
/// day matching and daylight-saving handling): `@weekly` equals `0 0 * * SUN` and `00 0 * * 7`, but `0-59 * * * *`
/// differs from `* * * * *`.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    var minutes: CronField
    var hours: CronField
    var daysOfMonth: CronField
    var months: CronField
    var daysOfWeek: CronField

    /// Parses a five-field expression or a macro; whitespace around and between fields is ignored.
    ///
    /// - Throws: ``CronError`` naming the field and the character where parsing failed.
    public init(_ text: String) throws(CronError) {
        let fields = try CronParser(text).parse()
        minutes = fields[0]
        hours = fields[1]
        daysOfMonth = fields[2]
        months = fields[3]
        daysOfWeek = fields[4]
    }

    /// The expression in canonical form: numbers instead of names, macros expanded, each field as `*`, `*/n`, a
    /// stepped range `a-b/n` or a list of values and ranges. `CronExpression(x.description) == x` always holds.
    public var description: String {
        [minutes, hours, daysOfMonth, months, daysOfWeek].enumerated()
            .map { index, field in field.rendered(CronFieldKind.allCases[index]) }
            .joined(separator: " ")
    }

    /// Whether neither minute nor hour starts with `*` (cronie's "fixed-time" job), which selects the daylight-saving
    /// rules of ``next(after:in:)``.
    public var isFixedTime: Bool { !minutes.isWildcard && !hours.isWildcard }

    /// The first firing strictly after `date`, or `nil` when none falls within ``searchYears`` calendar years.
    ///
    /// Fields are matched against the wall clock of `timeZone` in the proleptic Gregorian calendar (what
    /// `Calendar(identifier: .gregorian)` with that time zone shows for dates after 1582). Wall-clock times are mapped
    /// to instants with the zone's UTC offsets (`secondsFromGMT(for:)`) rather than `Calendar.date(from:)`, whose
    /// choice for skipped and repeated times is not specified. Daylight-saving rules, as in cronie:
    /// - A matching wall-clock time that does not exist (skipped when clocks go forward) fires once, at the instant the
    ///   gap ends (03:00 for `30 2 * * *` when 02:00 jumps to 03:00), but only for ``isFixedTime`` schedules. Schedules
    ///   whose minute or hour starts with `*` simply skip it: `*/15 * * * *` keeps firing every 15 minutes of elapsed
    ///   time and `30 * * * *` fires at 01:30 and then 03:30.
    /// - A matching wall-clock time that occurs twice (when clocks go back) fires only at its first occurrence for
    ///   ``isFixedTime`` schedules, and at both occurrences otherwise: `30 2 * * *` fires once, `*/15 * * * *` and
    ///   `@hourly` keep firing through the repeated hour in elapsed time.
    ///
    /// Several matching times that map to one instant (two skipped times, or a skipped time and the time the gap ends)
    /// fire once. The search skips whole months, days and hours that cannot match, so its cost does not depend on how
    /// far away the next firing is.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, abs(seconds) < 1e14 else { return nil }
        let search = CronSearch(expression: self, zone: ZoneClock(timeZone))
        return search.next(after: seconds).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// The firings strictly after `start` and at or before `end`, in order, at most `limit` of them.
    public func firings(after start: Date, through end: Date, in timeZone: TimeZone, limit: Int) -> [Date] {
        var result: [Date] = []
        var cursor = start
        while result.count < limit, let firing = next(after: cursor, in: timeZone), firing <= end {
            result.append(firing)
            cursor = firing
        }
        return result
    }

    /// How many calendar years after the current one ``next(after:in:)`` searches: long enough to reach every
    /// February 29 (2096 is followed by 2104).
    public static let searchYears = 8

    /// Looks up an IANA time zone identifier such as `Europe/Berlin` or `UTC`.
    ///
    /// - Throws: ``CronError`` with field `time zone` when Foundation does not know the identifier.
    public static func timeZone(_ identifier: String) throws(CronError) -> TimeZone {
        if let zone = TimeZone(identifier: identifier), !identifier.isEmpty { return zone }
        throw CronError(
            field: CronError.timeZoneField, position: .init(field: 0, character: 1),
            detail: "\"\(identifier)\" is not a known IANA time zone identifier (such as \"Europe/Berlin\" or \"UTC\")")
    }
}

/// Why a cron expression or time zone was rejected.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public struct Position: Sendable, Hashable {
        /// The 1-based index of the field (1 = minute … 5 = day-of-week; 6 or more for an extra field; 0 for a time zone).
        public var field: Int
        /// The 1-based character offset in the text of the offending token (one past the end for a missing field).
        public var character: Int

        /// A position from a 1-based field index and character offset.
        public init(field: Int, character: Int) {
            self.field = field
            self.character = character
        }
    }

    /// The `field` of errors about the expression as a whole: empty, wrong number of fields, unknown macro.
    public static let expressionField = "expression"
    /// The `field` of errors from ``CronExpression/timeZone(_:)``.
    public static let timeZoneField = "time zone"

    /// `minute`, `hour`, `day-of-month`, `month`, `day-of-week`, ``expressionField`` or ``timeZoneField``.
    public var field: String
    /// The field and character the problem was found at.
    public var position: Position
    /// One sentence naming the field and position, e.g. `hour: 24 is out of range 0–23 (field 2, at character 5)`.
    public var message: String

    /// The ``message``.
    public var description: String { message }

    init(field: String, position: Position, detail: String) {
        self.field = field
        self.position = position
        let location = position.field > 0 ? " (field \(position.field), at character \(position.character))" : ""
        message = "\(field): \(detail)\(location)"
    }
}

/// One of the five fields: its name, its bounds and the names it accepts.
enum CronFieldKind: Int, CaseIterable, Sendable {
    /// In field order; `rawValue + 1` is the field's 1-based position.
    case minute, hour, dayOfMonth, month, dayOfWeek

    /// The name used in errors.
    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    /// The values accepted in the text (day-of-week accepts 7 and stores it as 0).
    var bounds: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// The values a matching time can have, which `*` covers.
    var stored: ClosedRange<Int> { self == .dayOfWeek ? 0...6 : bounds }

    /// Upper-case names and the value of the first one (`JAN` = 1, `SUN` = 0).
    var names: (list: [String], first: Int)? {
        switch self {
        case .month: (["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
        case .dayOfWeek: (["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 0)
        default: nil
        }
    }

    /// A value as stored (7 → 0 for day-of-week).
    func folded(_ value: Int) -> Int { self == .dayOfWeek && value == 7 ? 0 : value }
}

/// The values one field matches, as bits, and whether the field text started with `*`.
struct CronField: Sendable, Hashable {
    var bits: UInt64 = 0
    var isWildcard = false

    /// Whether the field matches `value` (as stored: day-of-week 0 … 6).
    func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0 }

    /// The smallest matched value that is at least `value`.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let remaining = bits & (UInt64.max << UInt64(max(value, 0)))
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }

    /// Adds a stored value (0 … 63).
    mutating func insert(_ value: Int) { bits |= 1 << UInt64(value) }
}
