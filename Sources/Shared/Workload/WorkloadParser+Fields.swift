import Foundation

/// A row is rejected for this reason (one sentence naming the field).
struct InvalidField: Error {
    let reason: String

    static func missing(_ key: WorkloadEvent.CodingKeys) -> InvalidField { InvalidField(reason: "missing required field \(key.stringValue)") }
}

/// One field's value as it arrived, before it is read as the field's type.
enum RawValue {
    case absent
    case null
    case bool(Bool)
    /// A JSON number; `integer` is set when the value is a whole number that fits an `Int` exactly.
    case number(Double, integer: Int?)
    /// A JSON string.
    case string(String)
    /// A non-empty CSV cell: untyped text, read as the field's type.
    case text(String)
    /// A JSON array or object.
    case composite
}

/// The known fields of one row, indexed by `WorkloadEvent.CodingKeys.slot`; reused from row to row.
struct RawRow {
    static let width = WorkloadEvent.CodingKeys.allCases.count
    var values = [RawValue](repeating: .absent, count: width)

    subscript(key: WorkloadEvent.CodingKeys) -> RawValue { values[key.slot] }

    mutating func reset() {
        for slot in 0..<Self.width { values[slot] = .absent }
    }
}

extension WorkloadEvent.CodingKeys {
    /// The field's position in a `RawRow`. Exhaustive, so a new key cannot be forgotten here.
    var slot: Int {
        switch self {
        case .timestamp: 0
        case .model: 1
        case .provider: 2
        case .status: 3
        case .feature: 4
        case .user: 5
        case .interactive: 6
        case .inputTokens: 7
        case .outputTokens: 8
        case .cachedInputTokens: 9
        case .reasoningTokens: 10
        case .latencyMs: 11
        case .ttftMs: 12
        case .promptHash: 13
        case .prefixHash: 14
        case .prefixTokens: 15
        case .maxTokens: 16
        case .costUSD: 17
        }
    }

    /// The keys' UTF-8 wire names by slot, for matching JSON keys without making a `String`.
    static let wireNamesBySlot: [[UInt8]] = allCases.sorted { $0.slot < $1.slot }.map { Array($0.stringValue.utf8) }

    /// The slot of the key spelled by `bytes`, or `nil` for an unknown key.
    static func slot(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        for (slot, name) in wireNamesBySlot.enumerated() where name.count == bytes.count {
            if name.withUnsafeBufferPointer({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) { return slot }
        }
        return nil
    }
}

/// Reads a `RawRow` as a `WorkloadEvent`: types first (in field order), then ``EventRules``.
enum EventReader {
    static func read(_ row: RawRow) -> Result<WorkloadEvent, InvalidField> {
        do throws(InvalidField) {
            let timestamp = try timestamp(row[.timestamp])
            let model = try requiredString(row, .model, reason: "model must be a non-empty string of at most 200 characters")
            let provider = try requiredString(row, .provider, reason: "provider must be a non-empty string of at most 100 characters")
            guard let inputTokens = try count(row, .inputTokens) else { throw .missing(.inputTokens) }
            guard let outputTokens = try count(row, .outputTokens) else { throw .missing(.outputTokens) }
            guard let latencyMs = try amount(row, .latencyMs) else { throw .missing(.latencyMs) }
            let event = WorkloadEvent(
                timestamp: timestamp, model: model, provider: provider, inputTokens: inputTokens, outputTokens: outputTokens,
                cachedInputTokens: try count(row, .cachedInputTokens), reasoningTokens: try count(row, .reasoningTokens),
                latencyMs: latencyMs, ttftMs: try amount(row, .ttftMs), status: try status(row[.status]),
                promptHash: try string(row, .promptHash), prefixHash: try string(row, .prefixHash),
                prefixTokens: try count(row, .prefixTokens), maxTokens: try count(row, .maxTokens),
                feature: try string(row, .feature), user: try string(row, .user), interactive: try bool(row[.interactive]),
                costUSD: try amount(row, .costUSD))
            try EventRules.check(event)
            return .success(event)
        } catch {
            return .failure(error)
        }
    }

    private static func timestamp(_ raw: RawValue) throws(InvalidField) -> Date {
        let invalid = InvalidField(reason: "timestamp must be RFC 3339 or Unix seconds")
        switch raw {
        case .absent, .null: throw .missing(.timestamp)
        case .number(let seconds, _): return Date(timeIntervalSince1970: seconds)
        case .string(let text), .text(let text):
            if let date = RFC3339.date(text) { return date }
            if let seconds = Double(trimmed(text)) { return Date(timeIntervalSince1970: seconds) }
            throw invalid
        case .bool, .composite: throw invalid
        }
    }

    private static func requiredString(_ row: RawRow, _ key: WorkloadEvent.CodingKeys, reason: String) throws(InvalidField) -> String {
        switch row[key] {
        case .absent, .null: throw .missing(key)
        case .string(let text), .text(let text): return text
        case .bool, .number, .composite: throw InvalidField(reason: reason)
        }
    }

    private static func string(_ row: RawRow, _ key: WorkloadEvent.CodingKeys) throws(InvalidField) -> String? {
        switch row[key] {
        case .absent, .null: return nil
        case .string(let text), .text(let text): return text.isEmpty ? nil : text
        case .bool, .number, .composite: throw InvalidField(reason: "\(key.stringValue) must be a string of at most 200 characters")
        }
    }

    /// A token count: a whole number (range checked by ``EventRules``).
    private static func count(_ row: RawRow, _ key: WorkloadEvent.CodingKeys) throws(InvalidField) -> Int? {
        switch row[key] {
        case .absent, .null: return nil
        case .number(_, let integer?): return integer
        case .text(let text):
            let digits = trimmed(text)
            if let integer = Int(digits) { return integer }
            if let number = Double(digits), let integer = exactInteger(number) { return integer }
        case .number, .bool, .string, .composite: break
        }
        throw InvalidField(reason: "\(key.stringValue) must be a non-negative integer")
    }

    /// A non-negative quantity such as milliseconds or dollars (range checked by ``EventRules``).
    private static func amount(_ row: RawRow, _ key: WorkloadEvent.CodingKeys) throws(InvalidField) -> Double? {
        switch row[key] {
        case .absent, .null: return nil
        case .number(let number, _): return number
        case .text(let text): if let number = Double(trimmed(text)) { return number }
        case .bool, .string, .composite: break
        }
        throw InvalidField(reason: "\(key.stringValue) must be a non-negative number")
    }

    private static func status(_ raw: RawValue) throws(InvalidField) -> CallStatus {
        switch raw {
        case .absent, .null: return .ok
        case .string(let text), .text(let text):
            if let status = CallStatus(rawValue: text) ?? CallStatus(rawValue: text.lowercased()) { return status }
        case .bool, .number, .composite: break
        }
        throw InvalidField(reason: "status must be one of ok, error, timeout")
    }

    private static func bool(_ raw: RawValue) throws(InvalidField) -> Bool? {
        switch raw {
        case .absent, .null: return nil
        case .bool(let flag): return flag
        case .text(let text):
            switch trimmed(text).lowercased() {
            case "true", "1": return true
            case "false", "0": return false
            default: throw InvalidField(reason: "interactive must be true, false, 1 or 0")
            }
        case .number, .string, .composite: throw InvalidField(reason: "interactive must be true or false")
        }
    }

    /// `text` without leading and trailing spaces and tabs (which a quoted CSV cell may keep).
    private static func trimmed(_ text: String) -> Substring {
        let utf8 = text.utf8
        let isBlank = { (byte: UInt8) in byte == ASCII.space || byte == ASCII.tab }
        guard let first = utf8.firstIndex(where: { !isBlank($0) }), let last = utf8.lastIndex(where: { !isBlank($0) }) else { return "" }
        return text[first...last]
    }

    /// `number` as an `Int` when it is a whole number that a `Double` represents exactly.
    static func exactInteger(_ number: Double) -> Int? {
        guard number.rounded(.towardZero) == number, abs(number) <= 9_007_199_254_740_992 else { return nil }
        return Int(number)
    }
}

/// The value rules shared by uploads and typed events (``WorkloadParser/validate(_:)``).
enum EventRules {
    /// Unix seconds of 9999-12-31T23:59:59Z, the last accepted timestamp.
    static let latestTimestamp = 253_402_300_799.0

    static func check(_ event: WorkloadEvent) throws(InvalidField) {
        let seconds = event.timestamp.timeIntervalSince1970
        guard seconds.isFinite, seconds >= 0, seconds <= latestTimestamp else {
            throw InvalidField(reason: "timestamp must be RFC 3339 or Unix seconds")
        }
        guard !event.model.isEmpty, fits(event.model, WorkloadParser.maxStringLength) else {
            throw InvalidField(reason: "model must be a non-empty string of at most 200 characters")
        }
        guard !event.provider.isEmpty, fits(event.provider, WorkloadParser.maxProviderLength) else {
            throw InvalidField(reason: "provider must be a non-empty string of at most 100 characters")
        }
        try count(event.inputTokens, .inputTokens)
        try count(event.outputTokens, .outputTokens)
        try amount(event.latencyMs, .latencyMs, upTo: maxMilliseconds)
        try count(event.cachedInputTokens, .cachedInputTokens)
        try count(event.reasoningTokens, .reasoningTokens)
        try count(event.prefixTokens, .prefixTokens)
        try count(event.maxTokens, .maxTokens)
        try amount(event.ttftMs, .ttftMs, upTo: maxMilliseconds)
        try amount(event.costUSD, .costUSD, upTo: maxCostUSD)
        try string(event.promptHash, .promptHash)
        try string(event.prefixHash, .prefixHash)
        try string(event.feature, .feature)
        try string(event.user, .user)
        // PostgreSQL text cannot hold U+0000.
        let strings: [(String?, WorkloadEvent.CodingKeys)] = [
            (event.model, .model), (event.provider, .provider), (event.promptHash, .promptHash), (event.prefixHash, .prefixHash),
            (event.feature, .feature), (event.user, .user),
        ]
        for (value, key) in strings where value?.utf8.contains(0) == true {
            throw InvalidField(reason: "\(key.stringValue) must not contain NUL characters")
        }
        if let cached = event.cachedInputTokens, cached > event.inputTokens {
            throw InvalidField(reason: "cached_input_tokens must not exceed input_tokens")
        }
        if let prefix = event.prefixTokens, prefix > event.inputTokens {
            throw InvalidField(reason: "prefix_tokens must not exceed input_tokens")
        }
    }

    private static func count(_ value: Int?, _ key: WorkloadEvent.CodingKeys) throws(InvalidField) {
        guard let value else { return }
        guard value >= 0 else { throw InvalidField(reason: "\(key.stringValue) must be a non-negative integer") }
        guard value <= WorkloadParser.maxTokens else { throw InvalidField(reason: "\(key.stringValue) must be at most 10,000,000") }
    }

    /// Bounds that keep sums over millions of events finite: a call of at most a day, costing at most $1,000,000.
    static let maxMilliseconds = 86_400_000.0
    static let maxCostUSD = 1_000_000.0

    private static func amount(_ value: Double?, _ key: WorkloadEvent.CodingKeys, upTo limit: Double) throws(InvalidField) {
        guard let value, !(value.isFinite && value >= 0 && value <= limit) else { return }
        throw InvalidField(reason: "\(key.stringValue) must be a number from 0 to \(Int(limit))")
    }

    private static func string(_ value: String?, _ key: WorkloadEvent.CodingKeys) throws(InvalidField) {
        guard let value, !fits(value, WorkloadParser.maxStringLength) else { return }
        throw InvalidField(reason: "\(key.stringValue) must be a string of at most 200 characters")
    }

    /// Whether `text` has at most `limit` characters; counts characters only when the UTF-8 length exceeds `limit`.
    private static func fits(_ text: String, _ limit: Int) -> Bool {
        text.utf8.count <= limit || text.count <= limit
    }
}
