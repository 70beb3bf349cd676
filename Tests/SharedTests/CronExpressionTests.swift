import Foundation
import Shared
import Testing

@Suite("Cron expressions: syntax, errors and next firing times")
struct CronExpressionTests {
    static func zone(_ identifier: String) -> TimeZone { TimeZone(identifier: identifier)! }

    /// An instant written in ISO 8601 with an explicit offset, e.g. `2026-10-25T02:50:00+02:00`.
    static func instant(_ text: String) throws -> Date { try Date(text, strategy: .iso8601) }

    /// The wall clock of `date` in `zone`, e.g. `Sun 2026-03-29 03:00 +02:00`.
    static func wallClock(_ date: Date?, _ zone: TimeZone) -> String {
        guard let date else { return "nil" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE yyyy-MM-dd HH:mm xxx"
        return formatter.string(from: date)
    }

    /// The first `count` firings after `after`, as wall-clock text in `zone`.
    static func firings(_ expression: String, after: String, in zone: String, count: Int) throws -> [String] {
        let timeZone = Self.zone(zone)
        let dates = try CronExpression(expression).firings(after: try instant(after), through: .distantFuture, in: timeZone, limit: count)
        return dates.map { wallClock($0, timeZone) }
    }

    // MARK: Syntax

    @Test(arguments: [
        ("* * * * *", "* * * * *"), ("0 0 1 1 *", "0 0 1 1 *"), ("00 00 01 01 *", "0 0 1 1 *"),
        ("5,10,15 * * * *", "5,10,15 * * * *"), ("10-20 * * * *", "10-20 * * * *"), ("1,2,3,7 * * * *", "1-3,7 * * * *"),
        ("*/15 * * * *", "*/15 * * * *"), ("*/1 * * * *", "* * * * *"), ("10-40/10 * * * *", "10-40/10 * * * *"),
        ("5/20 * * * *", "5,25,45 * * * *"), ("0 */6 * * *", "0 */6 * * *"), ("*/20,5 * * * *", "*/20,5 * * * *"),
        ("0-59 * * * *", "0-59 * * * *"), ("0 0 * JAN-MAR,dec *", "0 0 * 1-3,12 *"), ("0 0 * * mon-FRI", "0 0 * * 1-5"),
        ("0 0 * * Sun,sat", "0 0 * * 0,6"), ("0 0 * * 7", "0 0 * * 0"), ("0 0 * * 0-7", "0 0 * * 0-6"),
        ("0 0 * * MON-SUN", "0 0 * * 0-6"), ("0 0 * * FRI-SUN", "0 0 * * 0,5,6"), ("0 0 * * */7", "0 0 * * */7"),
        ("0 0 * * 0-7/2", "0 0 * * 0-6/2"), ("0 0 */2 * *", "0 0 */2 * *"), ("  0\t9  * *   1-5 ", "0 9 * * 1-5"),
        ("@yearly", "0 0 1 1 *"), ("@ANNUALLY", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@Midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ])
    func syntaxFormsHaveACanonicalDescription(text: String, canonical: String) throws {
        let expression = try CronExpression(text)
        #expect(expression.description == canonical)
        #expect(try CronExpression(expression.description) == expression)
    }

    @Test func equalityComparesMatchesAndLeadingStars() throws {
        #expect(try CronExpression("0 0 * * 7") == CronExpression("0 0 * * SUN"))
        #expect(try CronExpression("0 0 * * 0") == CronExpression("0 0 * * 7"))
        #expect(try CronExpression("@weekly") == CronExpression("0 0 * * sun"))
        #expect(try CronExpression("@daily") == CronExpression("@midnight"))
        #expect(try CronExpression("0 0 * Jan *") == CronExpression("0 0 * 1 *"))
        #expect(try CronExpression("0-59 * * * *") != CronExpression("* * * * *"))
        #expect(try CronExpression("0 0 1 * *").isFixedTime)
        #expect(try !CronExpression("@hourly").isFixedTime && !CronExpression("*/5 3 * * *").isFixedTime)
    }

    // MARK: Errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let text: String, field: String, index: Int, character: Int
        var testDescription: String { text.debugDescription }
    }

    @Test(arguments: [
        ErrorCase(text: "60 * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "* 24 * * *", field: "hour", index: 2, character: 3),
        ErrorCase(text: "0 0,24 * * *", field: "hour", index: 2, character: 5),
        ErrorCase(text: "* * 0 * *", field: "day-of-month", index: 3, character: 5),
        ErrorCase(text: "* * 32 * *", field: "day-of-month", index: 3, character: 5),
        ErrorCase(text: "* * * 13 *", field: "month", index: 4, character: 7),
        ErrorCase(text: "* * * * 8", field: "day-of-week", index: 5, character: 9),
        ErrorCase(text: "*/0 * * * *", field: "minute", index: 1, character: 3),
        ErrorCase(text: "* */25 * * *", field: "hour", index: 2, character: 5),
        ErrorCase(text: "0 0 * * */8", field: "day-of-week", index: 5, character: 11),
        ErrorCase(text: "5-1 * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "0 0 * * SAT-MON", field: "day-of-week", index: 5, character: 9),
        ErrorCase(text: "a * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "* * * JANUARY *", field: "month", index: 4, character: 7),
        ErrorCase(text: "* * * * MON-FUN", field: "day-of-week", index: 5, character: 13),
        ErrorCase(text: "0 0 ? * *", field: "day-of-month", index: 3, character: 5),
        ErrorCase(text: "1,,2 * * * *", field: "minute", index: 1, character: 3),
        ErrorCase(text: "1, * * * *", field: "minute", index: 1, character: 3),
        ErrorCase(text: "*/ * * * *", field: "minute", index: 1, character: 2),
        ErrorCase(text: "*/x * * * *", field: "minute", index: 1, character: 3),
        ErrorCase(text: "/5 * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "5- * * * *", field: "minute", index: 1, character: 2),
        ErrorCase(text: "-5 * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "*5 * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "99999 * * * *", field: "minute", index: 1, character: 1),
        ErrorCase(text: "* * * *", field: "expression", index: 5, character: 8),
        ErrorCase(text: "0 * * * * *", field: "expression", index: 6, character: 11),
        ErrorCase(text: "", field: "expression", index: 1, character: 1),
        ErrorCase(text: " \t ", field: "expression", index: 1, character: 4),
        ErrorCase(text: "@reboot", field: "expression", index: 1, character: 1),
        ErrorCase(text: "@daily 5", field: "expression", index: 2, character: 8),
    ])
    func badInputNamesTheFieldAndPosition(_ bad: ErrorCase) {
        let error = #expect(throws: CronError.self) { try CronExpression(bad.text) }
        #expect(error?.field == bad.field)
        #expect(error?.position == CronError.Position(field: bad.index, character: bad.character))
        #expect(error?.message.hasPrefix("\(bad.field): ") == true)
        #expect(error?.message.hasSuffix("(field \(bad.index), at character \(bad.character))") == true)
    }

    @Test(arguments: [
        ("0 0,24 * * *", "hour: 24 is out of range 0–23 (field 2, at character 5)"),
        ("* * * * 8", "day-of-week: 8 is out of range 0–7 (field 5, at character 9)"),
        ("*/0 * * * *", "minute: step 0 must be from 1 to 60 (field 1, at character 3)"),
        ("5-1 * * * *", "minute: range 5-1 is reversed; the start must not exceed the end (field 1, at character 1)"),
        ("a * * * *", "minute: \"a\" is not a number (field 1, at character 1)"),
        ("* * * * MON-FUN", "day-of-week: \"FUN\" is not a number or a weekday name (SUN–SAT) (field 5, at character 13)"),
        ("* * *", "expression: expected 5 fields (minute hour day-of-month month day-of-week) but found 3; month and day-of-week are missing (field 4, at character 6)"),
        ("0 * * * * *", "expression: expected 5 fields (minute hour day-of-month month day-of-week) but found 6; seconds and years are not supported (field 6, at character 11)"),
        ("", "expression: empty; expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily (field 1, at character 1)"),
        ("@reboot", "expression: unknown macro @reboot; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly (field 1, at character 1)"),
    ])
    func errorMessagesReadClearly(text: String, message: String) {
        let error = #expect(throws: CronError.self) { try CronExpression(text) }
        #expect(error?.message == message)
        #expect(error?.description == message)
    }

    @Test func timeZonesMustBeKnownIdentifiers() throws {
        #expect(try CronExpression.timeZone("Europe/Berlin").identifier == "Europe/Berlin")
        #expect(try CronExpression.timeZone("Asia/Kolkata").secondsFromGMT(for: Date()) == 19_800)
        _ = try CronExpression.timeZone("UTC")
        for bad in ["Mars/Olympus", "", "europe/berlin"] {
            let error = #expect(throws: CronError.self) { try CronExpression.timeZone(bad) }
            #expect(error?.field == CronError.timeZoneField)
            #expect(error?.message.contains("\"\(bad)\" is not a known IANA time zone") == true)
        }
    }

    // MARK: Calendar arithmetic (UTC)

    @Test(arguments: [
        ("0 0 1 * *", "2026-01-31T12:00:00Z", ["Sun 2026-02-01 00:00 +00:00", "Sun 2026-03-01 00:00 +00:00"]),
        ("0 12 31 * *", "2026-01-31T12:00:00Z", ["Tue 2026-03-31 12:00 +00:00", "Sun 2026-05-31 12:00 +00:00"]),
        ("0 0 29 2 *", "2026-01-01T00:00:00Z", ["Tue 2028-02-29 00:00 +00:00", "Sun 2032-02-29 00:00 +00:00"]),
        ("0 0 29 2 *", "2096-03-01T00:00:00Z", ["Fri 2104-02-29 00:00 +00:00"]),
        ("59 23 31 12 *", "2026-12-31T23:59:00Z", ["Fri 2027-12-31 23:59 +00:00"]),
        ("@yearly", "2026-12-31T23:59:59Z", ["Fri 2027-01-01 00:00 +00:00"]),
        ("* * * * *", "2026-12-31T23:59:00Z", ["Fri 2027-01-01 00:00 +00:00"]),
        ("5/20 8-9 * * *", "2026-06-01T00:00:00Z", ["Mon 2026-06-01 08:05 +00:00", "Mon 2026-06-01 08:25 +00:00", "Mon 2026-06-01 08:45 +00:00", "Mon 2026-06-01 09:05 +00:00"]),
        ("0 0 * * 7", "2026-06-01T00:00:00Z", ["Sun 2026-06-07 00:00 +00:00", "Sun 2026-06-14 00:00 +00:00"]),
        ("0 0 * * 0", "2026-06-01T00:00:00Z", ["Sun 2026-06-07 00:00 +00:00", "Sun 2026-06-14 00:00 +00:00"]),
        ("@weekly", "2026-06-01T00:00:00Z", ["Sun 2026-06-07 00:00 +00:00"]),
        ("@monthly", "2026-06-01T00:00:00Z", ["Wed 2026-07-01 00:00 +00:00"]),
        ("@hourly", "2026-06-01T00:00:00Z", ["Mon 2026-06-01 01:00 +00:00"]),
    ])
    func nextCrossesMonthsLeapDaysAndYears(expression: String, after: String, expected: [String]) throws {
        #expect(try Self.firings(expression, after: after, in: "UTC", count: expected.count) == expected)
    }

    @Test(arguments: ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 FEB *"])
    func impossibleDatesNeverFire(expression: String) throws {
        #expect(try CronExpression(expression).next(after: Self.instant("2026-01-01T00:00:00Z"), in: Self.zone("UTC")) == nil)
    }

    @Test func nextIsStrictlyAfter() throws {
        let utc = Self.zone("UTC"), at = try Self.instant("2026-06-01T08:05:00Z")
        let expression = try CronExpression("5 8 * * *")
        #expect(expression.next(after: at, in: utc) == at.addingTimeInterval(86_400))
        #expect(expression.next(after: at.addingTimeInterval(-0.5), in: utc) == at)
        #expect(expression.firings(after: at, through: at.addingTimeInterval(3 * 86_400), in: utc, limit: 10).count == 3)
        #expect(expression.firings(after: at, through: at.addingTimeInterval(30 * 86_400), in: utc, limit: 2).count == 2)
    }

    @Test(arguments: [
        // Neither day field starts with `*`: either may match.
        ("0 0 1,15 * MON", ["Mon 2026-06-08", "Mon 2026-06-15", "Mon 2026-06-22", "Mon 2026-06-29", "Wed 2026-07-01"]),
        ("0 0 13 * FRI", ["Fri 2026-06-05", "Fri 2026-06-12", "Sat 2026-06-13", "Fri 2026-06-19"]),
        // One starts with `*` (Vixie cron, even with a step): both must match.
        ("0 0 13 * *", ["Sat 2026-06-13", "Mon 2026-07-13"]),
        ("0 0 */10 * MON", ["Mon 2026-08-31", "Mon 2026-09-21"]),
        ("0 0 13 * */5", ["Sun 2026-09-13", "Fri 2026-11-13", "Sun 2026-12-13"]),
    ])
    func dayOfMonthAndDayOfWeekFollowTheVixieRule(expression: String, days: [String]) throws {
        let got = try Self.firings(expression, after: "2026-06-01T00:00:00Z", in: "UTC", count: days.count)
        #expect(got.map { String($0.prefix(14)) } == days)
    }

    // MARK: Time zones

    @Test(arguments: [
        ("America/New_York", "2026-03-06T10:00:00-05:00", ["Mon 2026-03-09 09:00 -04:00", "Tue 2026-03-10 09:00 -04:00"]),
        ("America/New_York", "2026-10-30T10:00:00-04:00", ["Mon 2026-11-02 09:00 -05:00", "Tue 2026-11-03 09:00 -05:00"]),
        ("Asia/Kolkata", "2026-06-05T10:00:00+05:30", ["Mon 2026-06-08 09:00 +05:30", "Tue 2026-06-09 09:00 +05:30"]),
    ])
    func weekdayMorningsFollowTheLocalClock(zone: String, after: String, expected: [String]) throws {
        #expect(try Self.firings("0 9 * * MON-FRI", after: after, in: zone, count: expected.count) == expected)
    }

    @Test func halfHourOffsetsMapToTheRightInstant() throws {
        let kolkata = Self.zone("Asia/Kolkata")
        let next = try CronExpression("0 9 * * MON-FRI").next(after: Self.instant("2026-06-05T10:00:00+05:30"), in: kolkata)
        #expect(try next == Self.instant("2026-06-08T03:30:00Z"))
    }

    // MARK: Daylight saving (Europe/Berlin 2026: 02:00 → 03:00 on 29 March, 03:00 → 02:00 on 25 October)

    @Test func springForwardFiresSkippedFixedTimesWhenTheGapEnds() throws {
        #expect(try Self.firings("30 2 * * *", after: "2026-03-28T00:00:00+01:00", in: "Europe/Berlin", count: 3) == [
            "Sat 2026-03-28 02:30 +01:00", "Sun 2026-03-29 03:00 +02:00", "Mon 2026-03-30 02:30 +02:00",
        ])
        // Two skipped times and the first valid one share one firing.
        #expect(try Self.firings("0 2,3 * * *", after: "2026-03-29T00:00:00+01:00", in: "Europe/Berlin", count: 2) == [
            "Sun 2026-03-29 03:00 +02:00", "Mon 2026-03-30 02:00 +02:00",
        ])
    }

    @Test func springForwardSkipsWildcardTimesInTheGap() throws {
        #expect(try Self.firings("*/15 * * * *", after: "2026-03-29T01:30:00+01:00", in: "Europe/Berlin", count: 3) == [
            "Sun 2026-03-29 01:45 +01:00", "Sun 2026-03-29 03:00 +02:00", "Sun 2026-03-29 03:15 +02:00",
        ])
        #expect(try Self.firings("30 * * * *", after: "2026-03-29T00:45:00+01:00", in: "Europe/Berlin", count: 2) == [
            "Sun 2026-03-29 01:30 +01:00", "Sun 2026-03-29 03:30 +02:00",
        ])
        #expect(try Self.firings("*/30 2 * * *", after: "2026-03-28T03:00:00+01:00", in: "Europe/Berlin", count: 1) == [
            "Mon 2026-03-30 02:00 +02:00"
        ])
    }

    @Test func fallBackFiresFixedTimesOnceAtTheFirstOccurrence() throws {
        #expect(try Self.firings("30 2 * * *", after: "2026-10-24T12:00:00+02:00", in: "Europe/Berlin", count: 2) == [
            "Sun 2026-10-25 02:30 +02:00", "Mon 2026-10-26 02:30 +01:00",
        ])
        #expect(try Self.firings("0 1-3 * * *", after: "2026-10-25T00:30:00+02:00", in: "Europe/Berlin", count: 3) == [
            "Sun 2026-10-25 01:00 +02:00", "Sun 2026-10-25 02:00 +02:00", "Sun 2026-10-25 03:00 +01:00",
        ])
        // Asked from inside the repeated hour, either pass: the next firing is the next day.
        for after in ["2026-10-25T02:50:00+02:00", "2026-10-25T02:10:00+01:00"] {
            #expect(try Self.firings("30 2 * * *", after: after, in: "Europe/Berlin", count: 1) == ["Mon 2026-10-26 02:30 +01:00"])
        }
    }

    @Test func fallBackRepeatsWildcardTimesInElapsedTime() throws {
        let berlin = Self.zone("Europe/Berlin")
        let start = try Self.instant("2026-10-25T01:50:00+02:00")
        let quarterHours = try CronExpression("*/15 * * * *").firings(after: start, through: .distantFuture, in: berlin, limit: 9)
        #expect(quarterHours.map { Self.wallClock($0, berlin) } == [
            "Sun 2026-10-25 02:00 +02:00", "Sun 2026-10-25 02:15 +02:00", "Sun 2026-10-25 02:30 +02:00", "Sun 2026-10-25 02:45 +02:00",
            "Sun 2026-10-25 02:00 +01:00", "Sun 2026-10-25 02:15 +01:00", "Sun 2026-10-25 02:30 +01:00", "Sun 2026-10-25 02:45 +01:00",
            "Sun 2026-10-25 03:00 +01:00",
        ])
        #expect(zip(quarterHours, quarterHours.dropFirst()).allSatisfy { $1.timeIntervalSince($0) == 900 })
        #expect(try Self.firings("@hourly", after: "2026-10-25T01:30:00+02:00", in: "Europe/Berlin", count: 3) == [
            "Sun 2026-10-25 02:00 +02:00", "Sun 2026-10-25 02:00 +01:00", "Sun 2026-10-25 03:00 +01:00",
        ])
        // Asked from either pass, the next quarter hour is the next in elapsed time.
        #expect(try Self.firings("*/15 * * * *", after: "2026-10-25T02:50:00+02:00", in: "Europe/Berlin", count: 1) == ["Sun 2026-10-25 02:00 +01:00"])
        #expect(try Self.firings("*/15 * * * *", after: "2026-10-25T02:10:00+01:00", in: "Europe/Berlin", count: 1) == ["Sun 2026-10-25 02:15 +01:00"])
    }

    // MARK: Daylight saving against a minute-by-minute reference

    /// A schedule and an independent test of a wall-clock time against it.
    struct ReferenceSchedule: Sendable {
        let expression: String
        let matches: @Sendable (_ hour: Int, _ minute: Int, _ weekday: Int) -> Bool
    }

    static let referenceSchedules = [
        ReferenceSchedule(expression: "30 2 * * *") { hour, minute, _ in hour == 2 && minute == 30 },
        ReferenceSchedule(expression: "*/15 * * * *") { _, minute, _ in minute % 15 == 0 },
        ReferenceSchedule(expression: "0 * * * *") { _, minute, _ in minute == 0 },
        ReferenceSchedule(expression: "0 2,3 * * *") { hour, minute, _ in minute == 0 && (hour == 2 || hour == 3) },
        ReferenceSchedule(expression: "*/20 2 * * *") { hour, minute, _ in hour == 2 && minute % 20 == 0 },
        ReferenceSchedule(expression: "0,30 1-3 * * SUN") { hour, minute, weekday in weekday == 1 && (1...3).contains(hour) && minute % 30 == 0 },
    ]

    /// Every firing in the `minutes` minutes from `start` (minute-aligned), stepping through elapsed time: a minute fires
    /// when its wall clock matches, unless a fixed-time schedule already saw that wall clock (clocks went back); the
    /// first minute after a gap also fires for a fixed-time schedule when a skipped wall-clock minute matched.
    static func reference(_ schedule: ReferenceSchedule, fixedTime: Bool, start: Date, minutes: Int, zone: TimeZone) -> [Date] {
        var local = Calendar(identifier: .gregorian)
        local.timeZone = zone
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let wallClock = { (date: Date) in utc.date(from: local.dateComponents([.year, .month, .day, .hour, .minute], from: date))! }
        let matches = { (wall: Date) in
            let parts = utc.dateComponents([.hour, .minute, .weekday], from: wall)
            return schedule.matches(parts.hour!, parts.minute!, parts.weekday!)
        }
        var seen = Set<Date>(), firings: [Date] = []
        var previous = wallClock(start.addingTimeInterval(-60))
        for step in 0..<minutes {
            let date = start.addingTimeInterval(Double(step * 60)), wall = wallClock(date)
            var fires = matches(wall) && !(fixedTime && seen.contains(wall))
            if fixedTime, wall.timeIntervalSince(previous) > 60 {
                fires = fires || stride(from: 60.0, to: wall.timeIntervalSince(previous), by: 60).contains { matches(previous.addingTimeInterval($0)) }
            }
            if fires { firings.append(date) }
            seen.insert(wall)
            previous = wall
        }
        return firings
    }

    @Test(arguments: [
        ("Europe/Berlin", "2026-03-28T12:00:00Z"), ("Europe/Berlin", "2026-10-24T12:00:00Z"),
        ("America/New_York", "2026-03-07T12:00:00Z"), ("America/New_York", "2026-10-31T12:00:00Z"),
        ("Australia/Lord_Howe", "2026-04-04T00:00:00Z"), ("Australia/Lord_Howe", "2026-10-03T00:00:00Z"),
    ])
    func transitionsMatchAMinuteByMinuteReference(zone identifier: String, start: String) throws {
        let zone = Self.zone(identifier), start = try Self.instant(start), minutes = 2 * 1_440
        let end = start.addingTimeInterval(Double(minutes - 1) * 60)
        for schedule in Self.referenceSchedules {
            let expression = try CronExpression(schedule.expression)
            let expected = Self.reference(schedule, fixedTime: expression.isFixedTime, start: start, minutes: minutes, zone: zone)
            let got = expression.firings(after: start.addingTimeInterval(-1), through: end, in: zone, limit: 1_000)
            #expect(got.map { Self.wallClock($0, zone) } == expected.map { Self.wallClock($0, zone) }, "\(schedule.expression)")
        }
    }
}
