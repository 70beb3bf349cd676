import Foundation

/// How reports round and print numbers, and make user text safe in Markdown.
///
/// Reports store rounded values (dollars to the cent, percents to a tenth, milliseconds and tokens whole) and print
/// those same values, so the JSON document and the Markdown always agree. Printing never depends on the locale.
public enum ReportFormat {
    /// Rounded to the cent; never `-0`.
    public static func cents(_ value: Double) -> Double { clean((value * 100).rounded() / 100) }

    /// Rounded to one decimal; never `-0`.
    public static func tenths(_ value: Double) -> Double { clean((value * 10).rounded() / 10) }

    /// Rounded to a whole number; never `-0`.
    public static func whole(_ value: Double) -> Double { clean(value.rounded()) }

    /// `$1,234.56`, `-$3.10`: the value rounded to the cent with thousands separators.
    public static func usd(_ value: Double) -> String {
        let rounded = cents(value)
        let text = String(format: "%.2f", abs(rounded))
        let parts = text.split(separator: ".")
        return (rounded < 0 ? "-$" : "$") + grouped(String(parts[0])) + "." + (parts.count > 1 ? String(parts[1]) : "00")
    }

    /// `12.3%` from a percentage (12.3, not 0.123).
    public static func percent(_ value: Double) -> String { String(format: "%.1f%%", tenths(value)) }

    /// `4,096`: the value rounded to a whole number with thousands separators.
    public static func integer(_ value: Double) -> String {
        let rounded = whole(value)
        guard abs(rounded) < 1e15 else { return String(format: "%.0f", rounded) }
        let text = grouped(String(Int64(abs(rounded))))
        return rounded < 0 ? "-" + text : text
    }

    /// `1,234 ms`.
    public static func ms(_ value: Double) -> String { integer(value) + " ms" }

    /// `5000` or `1500.5`: a number without grouping or trailing zeros (for keywords and keys).
    public static func plain(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// User-controlled text (feature, model and provider names, the user's message) made inert in Markdown: `\`,
    /// `` ` ``, `*`, `_`, `[`, `]`, `|`, `#`, `~`, `!` and `&` are backslash-escaped, `<` and `>` become `&lt;` and
    /// `&gt;`, and line breaks become spaces (so a name cannot end a table row or open a block). Empty text prints as
    /// `(empty)`.
    public static func markdown(_ text: String) -> String {
        guard !text.isEmpty else { return "(empty)" }
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "\\", "`", "*", "_", "[", "]", "|", "#", "~", "!", "&":
                result.append("\\")
                result.append(character)
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\n", "\r", "\r\n", "\u{2028}", "\u{2029}": result.append(" ")
            default: result.append(character)
            }
        }
        return result
    }

    /// `2025-03-01T00:00:00.000Z`: RFC 3339 in UTC with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// `1234567` → `1,234,567`.
    static func grouped(_ digits: String) -> String {
        var result = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset).isMultiple(of: 3) { result.append(",") }
            result.append(digit)
        }
        return result
    }

    static func clean(_ value: Double) -> Double { value == 0 ? 0 : value }
}
