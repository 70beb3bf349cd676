import Logging

/// Wraps another handler so that secrets never reach it, whatever its format.
///
/// The wrapper owns the metadata and the metadata provider (the wrapped handler gets neither), merges them with the
/// call site's metadata and the event's error, then hands the wrapped handler one redacted metadata dictionary:
/// - a value whose key is a secret (`LogRedaction.isSecret(key:)`), at any depth, becomes `"***"`;
/// - the message and every other string value are passed through `LogRedaction.scrub(_:)`.
public struct RedactingLogHandler<Wrapped: LogHandler>: LogHandler {
    private var wrapped: Wrapped
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// Reads and sets the wrapped handler's level.
    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    /// - Parameters:
    ///   - wrapped: The handler that formats and writes; its metadata moves to the wrapper.
    ///   - metadataProvider: Contextual metadata added to every event; the bootstrapped provider by default.
    public init(wrapping wrapped: Wrapped, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.wrapped = wrapped
        self.metadataProvider = metadataProvider
        metadata = wrapped.metadata
        if !wrapped.metadata.isEmpty { self.wrapped.metadata = [:] }
        if wrapped.metadataProvider != nil { self.wrapped.metadataProvider = nil }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty { merged.merge(provided) { $1 } }
        if let explicit = event.metadata, !explicit.isEmpty { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = .string("\(error)")
            merged["error.type"] = .string(String(reflecting: type(of: error)))
            event.error = nil
        }
        event.metadata = merged.isEmpty ? nil : LogRedaction.redact(merged)
        let message = event.message.description
        if let scrubbed = LogRedaction.scrubbed(message) { event.message = Logger.Message(stringLiteral: scrubbed) }
        wrapped.log(event: event)
    }
}

/// Which log data counts as secret, and how it is hidden.
public enum LogRedaction {
    /// What replaces a secret.
    public static let mask = "***"

    /// Key fragments that make a metadata key secret, matched case-insensitively anywhere in the key, with `.` and
    /// `-` read as `_` (`jwt.secret`, `X-Api-Key`, `admin_token`, `llm.api.key`). A key that is exactly `key` is
    /// secret too (`idempotency_key` is not).
    public static let secretFragments = ["password", "token", "secret", "authorization", "api_key", "apikey"]

    /// Whether the value of metadata `key` must be hidden.
    public static func isSecret(key: String) -> Bool {
        let normalized = normalize(Array(key.utf8))
        if normalized == Array("key".utf8) { return true }
        return secretFragmentBytes.contains { contains(normalized, $0, at: nil) }
    }

    /// `metadata` with every secret key's value replaced by `mask` (at any depth) and other strings scrubbed.
    public static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata { redactedIfNeeded(metadata) ?? metadata }

    /// The redacted metadata, or `nil` when `metadata` holds nothing to hide.
    private static func redactedIfNeeded(_ metadata: Logger.Metadata) -> Logger.Metadata? {
        var result: Logger.Metadata?
        for (key, value) in metadata {
            let clean: Logger.MetadataValue? = isSecret(key: key) ? Logger.MetadataValue.string(mask) : redactedIfNeeded(value)
            guard let clean else { continue }
            if result == nil { result = metadata }
            result?[key] = clean
        }
        return result
    }

    /// The redacted value, or `nil` when `value` holds nothing to hide.
    private static func redactedIfNeeded(_ value: Logger.MetadataValue) -> Logger.MetadataValue? {
        switch value {
        case .string(let text):
            return scrubbed(text).map { .string($0) }
        case .stringConvertible(let convertible):
            return scrubbed(convertible.description).map { .string($0) }
        case .array(let values):
            let clean = values.map { redactedIfNeeded($0) }
            guard clean.contains(where: { $0 != nil }) else { return nil }
            return .array(zip(values, clean).map { $1 ?? $0 })
        case .dictionary(let dictionary):
            return redactedIfNeeded(dictionary).map { .dictionary($0) }
        }
    }

    /// `text` with secrets in free text masked: `password=…`-style assignments whose name contains a secret
    /// fragment, `Bearer …` and `Basic …` credentials, and the password in a URL's `user:password@`.
    public static func scrub(_ text: String) -> String { scrubbed(text) ?? text }

    /// The scrubbed text, or `nil` when there was nothing to mask.
    static func scrubbed(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var copiedUpTo = 0
        var index = 0
        while index < bytes.count {
            guard let (valueStart, valueEnd) = secretSpan(in: bytes, at: index) else {
                index += 1
                continue
            }
            if output.isEmpty { output.reserveCapacity(bytes.count) }
            output += bytes[copiedUpTo..<valueStart]
            output += Array(mask.utf8)
            copiedUpTo = valueEnd
            index = max(valueEnd, index + 1)
        }
        guard copiedUpTo > 0 else { return nil }
        output += bytes[copiedUpTo...]
        return String(decoding: output, as: UTF8.self)
    }

    /// The byte range of a secret value that a pattern starting at `index` introduces.
    private static func secretSpan(in bytes: [UInt8], at index: Int) -> (Int, Int)? {
        // `://user:password@host`
        if bytes[index] == UInt8(ascii: ":"), contains(bytes, Array("://".utf8), at: index) {
            var end = index + 3
            var colon: Int?
            while end < bytes.count, !isDelimiter(bytes[end]), bytes[end] != UInt8(ascii: "/") {
                if bytes[end] == UInt8(ascii: "@") { break }
                if bytes[end] == UInt8(ascii: ":"), colon == nil { colon = end }
                end += 1
            }
            if end < bytes.count, bytes[end] == UInt8(ascii: "@"), let colon, colon + 1 < end { return (colon + 1, end) }
            return nil
        }
        // `Bearer TOKEN`, `Basic CREDENTIALS`
        if index == 0 || !isWordByte(bytes[index - 1]) {
            for scheme in credentialSchemes where lowercasedMatch(bytes, scheme, at: index) {
                let start = index + scheme.count
                let end = valueEnd(in: bytes, from: start)
                return end > start ? (start, end) : nil
            }
        }
        // `db_password=VALUE`, `token="VALUE"`
        for fragment in secretFragmentBytes where lowercasedMatch(bytes, fragment, at: index) {
            var equals = index + fragment.count
            while equals < bytes.count, isWordByte(bytes[equals]) || bytes[equals] == UInt8(ascii: ".") { equals += 1 }
            guard equals < bytes.count, bytes[equals] == UInt8(ascii: "=") else { continue }
            var start = equals + 1
            if start < bytes.count, bytes[start] == UInt8(ascii: "\"") || bytes[start] == UInt8(ascii: "'") {
                let quote = bytes[start]
                start += 1
                var end = start
                while end < bytes.count, bytes[end] != quote { end += 1 }
                return end > start ? (start, end) : nil
            }
            let end = valueEnd(in: bytes, from: start)
            return end > start ? (start, end) : nil
        }
        return nil
    }

    private static let secretFragmentBytes = secretFragments.map { Array($0.utf8) }
    private static let credentialSchemes = [Array("bearer ".utf8), Array("basic ".utf8)]

    /// Where an unquoted value ends: at white space or a separator such as `&`, `,` or `;`.
    private static func valueEnd(in bytes: [UInt8], from start: Int) -> Int {
        var end = start
        while end < bytes.count, !isDelimiter(bytes[end]) { end += 1 }
        return end
    }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        byte <= 0x20 || "&,;\"'<>()[]{}".utf8.contains(byte)
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// ASCII-lowercased, with `.` and `-` as `_`.
    private static func normalize(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { byte in
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") { return UInt8(ascii: "_") }
            return lowercased(byte)
        }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// Whether `needle` (lowercase) occurs at `index` in `bytes`, ignoring ASCII case and reading `-` as `_`.
    private static func lowercasedMatch(_ bytes: [UInt8], _ needle: [UInt8], at index: Int) -> Bool {
        guard index + needle.count <= bytes.count else { return false }
        for offset in needle.indices {
            var byte = lowercased(bytes[index + offset])
            if byte == UInt8(ascii: "-") { byte = UInt8(ascii: "_") }
            if byte != needle[offset] { return false }
        }
        return true
    }

    /// Whether `needle` occurs in `bytes` at `index`, or anywhere when `index` is `nil` (exact bytes).
    private static func contains(_ bytes: [UInt8], _ needle: [UInt8], at index: Int?) -> Bool {
        guard let index else {
            guard bytes.count >= needle.count else { return false }
            return (0...(bytes.count - needle.count)).contains { contains(bytes, needle, at: $0) }
        }
        guard index + needle.count <= bytes.count else { return false }
        return bytes[index..<(index + needle.count)].elementsEqual(needle)
    }
}
