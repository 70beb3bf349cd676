import Foundation

/// A strict, allocation-free reader of RFC 3339 timestamps (`2025-03-01T12:30:00Z`, `2025-03-01T12:30:00.125+02:00`).
///
/// `T` may also be `t` or a space (RFC 3339 §5.6 note); `Z` may be `z`. The offset is required. Fractional seconds may
/// have any number of digits. Second 60 (a leap second) is accepted and lands on the next minute.
public enum RFC3339 {
    public static func date(_ text: String) -> Date? {
        if let seconds = text.utf8.withContiguousStorageIfAvailable(unixSeconds) { return seconds.map(Date.init(timeIntervalSince1970:)) }
        return Array(text.utf8).withUnsafeBufferPointer(unixSeconds).map(Date.init(timeIntervalSince1970:))
    }

    static func unixSeconds(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var reader = DigitReader(bytes: bytes)
        guard let year = reader.digits(4), reader.skip("-"), let month = reader.digits(2), reader.skip("-"),
            let day = reader.digits(2), reader.skip("T") || reader.skip("t") || reader.skip(" "),
            let hour = reader.digits(2), reader.skip(":"), let minute = reader.digits(2), reader.skip(":"),
            let second = reader.digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var fraction = (digits: 0, value: 0)
        if reader.skip(".") {
            guard let value = reader.fraction() else { return nil }
            fraction = value
        }
        var offset = 0
        if reader.skip("Z") || reader.skip("z") {
            offset = 0
        } else if let sign = reader.sign(), let offsetHour = reader.digits(2), reader.skip(":"), let offsetMinute = reader.digits(2),
            offsetHour <= 23, offsetMinute <= 59
        {
            offset = sign * (offsetHour * 3600 + offsetMinute * 60)
        } else {
            return nil
        }
        guard reader.atEnd else { return nil }
        let wholeSeconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return seconds(wholeSeconds, fraction: fraction)
    }

    /// Whole seconds plus a decimal fraction, rounded once: `.123` gives the same `Double` as `123 / 1000` would, so
    /// millisecond timestamps survive a round trip exactly.
    private static func seconds(_ whole: Int, fraction: (digits: Int, value: Int)) -> Double {
        switch fraction.digits {
        case 0: Double(whole)
        case 1...3: Double(whole * 1_000 + fraction.value * pow10(3 - fraction.digits)) / 1_000
        case 4...6: Double(whole * 1_000_000 + fraction.value * pow10(6 - fraction.digits)) / 1_000_000
        default: Double(whole) + Double(fraction.value) / Double(pow10(fraction.digits))
        }
    }

    private static func pow10(_ exponent: Int) -> Int { (0..<exponent).reduce(1) { result, _ in result * 10 } }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// A cursor over ASCII bytes for fixed-layout text.
private struct DigitReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    var atEnd: Bool { position == bytes.count }

    mutating func digits(_ count: Int) -> Int? {
        guard position + count <= bytes.count else { return nil }
        var value = 0
        for offset in 0..<count {
            let byte = bytes[position + offset]
            guard ASCII.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - ASCII.zero)
        }
        position += count
        return value
    }

    /// Reads the digits after a decimal point; digits beyond the ninth (below a nanosecond) are skipped.
    mutating func fraction() -> (digits: Int, value: Int)? {
        var value = 0, digits = 0, count = 0
        while position < bytes.count, ASCII.isDigit(bytes[position]) {
            if digits < 9 {
                value = value * 10 + Int(bytes[position] - ASCII.zero)
                digits += 1
            }
            count += 1
            position += 1
        }
        return count == 0 ? nil : (digits, value)
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    mutating func sign() -> Int? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }
}

extension RFC3339 {
    /// `2026-11-29T18:00:00.123Z`: UTC, milliseconds cut (not rounded) as `Date.ISO8601FormatStyle` does, which it
    /// replaces on the hot paths: every published event carries one, and the format style was 2% of a worker's CPU in
    /// the throughput benchmark (`perf`).
    public static func text(_ date: Date) -> String {
        let time = date.timeIntervalSince1970
        let seconds = time.rounded(.down)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        write(seconds: Int(seconds), milliseconds: Int(((time - seconds) * 1000).rounded(.down)), into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the text of `text(_:)` for a time given as whole seconds and milliseconds since 1970.
    static func write(seconds: Int, milliseconds: Int, into bytes: inout [UInt8]) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ number: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8((number / divisor) % 10))
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        bytes.append(UInt8(ascii: "."))
        digits(milliseconds, 3)
        bytes.append(UInt8(ascii: "Z"))
    }
}
