import Foundation

/// The body formats accepted by workload ingest.
public enum WorkloadFormat: String, Sendable, CaseIterable {
    /// One JSON array of event objects.
    case json
    /// One event object per line (NDJSON / JSON Lines); blank lines are skipped.
    case ndjson
    /// RFC 4180 CSV with a header row naming the columns (the `WorkloadEvent.CodingKeys` wire names).
    case csv

    /// The format named by a `Content-Type` header, ignoring parameters such as `charset`.
    ///
    /// - Parameter contentType: e.g. `application/json`, `application/x-ndjson; charset=utf-8`, `text/csv`.
    /// - Returns: `nil` for any other media type; call ``detect(_:)`` on the body instead.
    public init?(contentType: String) {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        switch mediaType.trimmingCharacters(in: .whitespaces).lowercased() {
        case "application/json": self = .json
        case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines": self = .ndjson
        case "text/csv", "application/csv": self = .csv
        default: return nil
        }
    }

    /// Guesses the format from the first byte that is not whitespace (after any UTF-8 byte order mark):
    /// `[` is a JSON array, `{` is NDJSON, anything else is CSV.
    public static func detect(_ body: some Collection<UInt8>) -> WorkloadFormat {
        var iterator = body.makeIterator()
        var leading = 0
        while let byte = iterator.next() {
            defer { leading += 1 }
            if leading < 3, byteOrderMark[leading] == byte { continue }
            if ASCII.isWhitespace(byte) { continue }
            return byte == ASCII.openBracket ? .json : byte == ASCII.openBrace ? .ndjson : .csv
        }
        return .csv
    }
}

/// How ingest treats a body with invalid rows.
public enum IngestMode: String, Sendable, CaseIterable, Codable {
    /// Any invalid row rejects the whole body (the default).
    case allOrNothing = "all_or_nothing"
    /// Valid rows are stored; invalid rows are reported and dropped.
    case skipInvalid = "skip_invalid"

    /// The mode used when the request does not name one.
    public static let `default` = IngestMode.allOrNothing
}

/// Why one uploaded row was rejected.
///
/// `index` is 0-based: the array element for JSON, the non-blank line for NDJSON, the data row after the header for CSV
/// (blank lines are not counted). ``bodyIndex`` (-1) marks a problem with the whole body: JSON syntax, a CSV header.
public struct RowError: Codable, Sendable, Equatable, Hashable {
    /// The `index` of an error that concerns the whole body rather than one row.
    public static let bodyIndex = -1

    public var index: Int
    /// One sentence naming the field, e.g. `input_tokens must be a non-negative integer`.
    public var reason: String

    public init(index: Int, reason: String) {
        self.index = index
        self.reason = reason
    }
}

/// The outcome of parsing one upload: the valid events and one error per invalid row.
public struct WorkloadParseResult: Sendable {
    /// The valid events, in body order.
    public var events: [WorkloadEvent] = []
    /// The row index of each event in `events` (parallel array).
    public var eventIndices: [Int] = []
    /// At most one error per row, in body order; a body-level error (index -1) is the only error and `events` is empty.
    public var errors: [RowError] = []
    /// The rows seen (valid plus invalid); 0 when the body itself is rejected.
    public var rowCount = 0
    /// The format the body was parsed as.
    public var format: WorkloadFormat

    /// Whether the body as a whole was rejected (JSON syntax error, missing CSV header or required column).
    public var isBodyRejected: Bool { errors.first?.index == RowError.bodyIndex }

    init(format: WorkloadFormat) { self.format = format }

    init(format: WorkloadFormat, bodyError reason: String) {
        self.format = format
        errors = [RowError(index: RowError.bodyIndex, reason: reason)]
    }

    mutating func append(_ row: Int, _ outcome: Result<WorkloadEvent, InvalidField>) {
        rowCount += 1
        switch outcome {
        case .success(let event): events.append(event); eventIndices.append(row)
        case .failure(let failure): errors.append(RowError(index: row, reason: failure.reason))
        }
    }
}

/// Parses and validates uploaded workload events (JSON array, NDJSON or CSV).
///
/// Rules (every reason names its field):
/// - Required: `timestamp` (RFC 3339 with an offset, with or without fractional seconds, or a number of Unix seconds;
///   1970 through 9999), `model` (non-empty, ≤ 200 characters), `provider` (non-empty, ≤ 100), `input_tokens` and
///   `output_tokens` (integers 0 … 10,000,000), `latency_ms` (finite, ≥ 0).
/// - Optional: the other `WorkloadEvent.CodingKeys`; `null`, a missing key and an empty CSV cell all mean absent, and an
///   empty optional string is absent. `status` is `ok` (default), `error` or `timeout` (any case). Token counts are integers
///   0 … 10,000,000 and `cached_input_tokens`, `prefix_tokens` may not exceed `input_tokens`. `ttft_ms` and `cost_usd`
///   are finite and ≥ 0. Strings are ≤ 200 characters. `interactive` is a JSON boolean; CSV also takes `1`, `0` (any case).
/// - JSON values must have the field's type (a number is not a string), except that `timestamp` may be a string of
///   Unix seconds. In CSV every cell is text and is read as the field's type. Unknown fields and columns are ignored;
///   when a JSON object repeats a key, the last value counts.
/// - Each invalid row gets exactly one error, for the first broken rule: presence and type of the required fields (in
///   the order above), then types of the optional fields, then ranges and lengths (``validate(_:)``), then
///   `cached_input_tokens` and `prefix_tokens` against `input_tokens`.
public enum WorkloadParser {
    /// The largest accepted token count.
    public static let maxTokens = 10_000_000
    /// The longest accepted string (characters), except `provider`.
    public static let maxStringLength = 200
    /// The longest accepted `provider`.
    public static let maxProviderLength = 100

    /// Parses an upload.
    ///
    /// - Parameters:
    ///   - body: The raw request body (`[UInt8]`, `Data`, `String.UTF8View`, a ByteBuffer's view, …).
    ///   - format: The body's format; `nil` detects it from the first byte (``WorkloadFormat/detect(_:)``).
    /// - Returns: The valid events with their row indices and one ``RowError`` per invalid row. A body that cannot be
    ///   split into rows (JSON syntax error, missing CSV header or required column) yields a single error with index -1.
    ///   NDJSON lines are independent, so a malformed line is an error for that row only.
    public static func parse(_ body: some Collection<UInt8>, format: WorkloadFormat? = nil) -> WorkloadParseResult {
        if let result = body.withContiguousStorageIfAvailable({ parse(buffer: $0, format: format) }) {
            return result
        }
        return Array(body).withUnsafeBufferPointer { parse(buffer: $0, format: format) }
    }

    /// Checks an already-typed event against the upload rules.
    ///
    /// - Returns: The reason for the first rule it breaks, or `nil` when it is valid.
    public static func validate(_ event: WorkloadEvent) -> String? {
        do throws(InvalidField) {
            try EventRules.check(event)
            return nil
        } catch {
            return error.reason
        }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>, format: WorkloadFormat?) -> WorkloadParseResult {
        var start = 0
        if buffer.count >= 3, buffer[0] == byteOrderMark[0], buffer[1] == byteOrderMark[1], buffer[2] == byteOrderMark[2] {
            start = 3
        }
        let body = UnsafeBufferPointer(rebasing: buffer[start...])
        switch format ?? WorkloadFormat.detect(body) {
        case .json: return parseJSONArray(body)
        case .ndjson: return parseNDJSON(body)
        case .csv: return parseCSV(body)
        }
    }
}

/// The UTF-8 byte order mark some tools (Excel) put before CSV text.
let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

/// ASCII bytes the parsers look for (computed, so they fold to constants in hot loops).
enum ASCII {
    static var space: UInt8 { 0x20 }
    static var tab: UInt8 { 0x09 }
    static var lineFeed: UInt8 { 0x0A }
    static var carriageReturn: UInt8 { 0x0D }
    static var comma: UInt8 { 0x2C }
    static var quote: UInt8 { 0x22 }
    static var openBracket: UInt8 { 0x5B }
    static var closeBracket: UInt8 { 0x5D }
    static var openBrace: UInt8 { 0x7B }
    static var closeBrace: UInt8 { 0x7D }
    static var colon: UInt8 { 0x3A }
    static var backslash: UInt8 { 0x5C }
    static var minus: UInt8 { 0x2D }
    static var plus: UInt8 { 0x2B }
    static var dot: UInt8 { 0x2E }
    static var zero: UInt8 { 0x30 }
    static var nine: UInt8 { 0x39 }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == lineFeed || byte == carriageReturn || byte == tab }
    static func isDigit(_ byte: UInt8) -> Bool { byte >= zero && byte <= nine }
    /// The lower-case hex digit of `nibble` (0…15), for identifiers and log lines written by hand.
    static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? zero + nibble : UInt8(ascii: "a") + nibble - 10 }
}
