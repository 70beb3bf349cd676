import Foundation

/// Where and why JSON text is malformed.
struct JSONSyntaxError: Error {
    let message: String
    /// Byte offset from the start of the body.
    let offset: Int
}

/// A strict RFC 8259 scanner that reads only what ingest needs: the known fields of row objects.
/// Unknown fields are validated and skipped without building values.
struct JSONScanner {
    static let maxDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position: Int
    private let end: Int
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    var atEnd: Bool { position >= end }

    func peek() -> UInt8? { position < end ? bytes[position] : nil }

    func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: atEnd ? "unexpected end of input" : message, offset: position)
    }

    mutating func skipWhitespace() {
        while position < end, ASCII.isWhitespace(bytes[position]) { position += 1 }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard position < end, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func expect(_ byte: UInt8, _ name: String) throws(JSONSyntaxError) {
        guard consume(byte) else { throw error("expected \(name)") }
    }

    /// After an element: `true` on a comma, `false` on `closing`.
    mutating func separator(closing: UInt8) throws(JSONSyntaxError) -> Bool {
        if consume(ASCII.comma) { return true }
        if consume(closing) { return false }
        throw error(closing == ASCII.closeBracket ? "expected ',' or ']'" : "expected ',' or '}'")
    }

    /// Reads one value; when it is an object, its known fields go into `row`.
    ///
    /// - Returns: whether the value was an object.
    mutating func readRow(into row: inout RawRow) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        guard consume(ASCII.openBrace) else {
            try skipValue()
            return false
        }
        skipWhitespace()
        if consume(ASCII.closeBrace) { return true }
        repeat {
            skipWhitespace()
            let slot = try readKeySlot()
            skipWhitespace()
            try expect(ASCII.colon, "':'")
            skipWhitespace()
            if let slot { row.values[slot] = try readValue() } else { try skipValue() }
            skipWhitespace()
        } while try separator(closing: ASCII.closeBrace)
        return true
    }

    private mutating func readKeySlot() throws(JSONSyntaxError) -> Int? {
        guard peek() == ASCII.quote else { throw error("expected a string key") }
        let span = try scanString()
        if !span.escaped {
            return WorkloadEvent.CodingKeys.slot(of: UnsafeBufferPointer(rebasing: bytes[span.start..<span.end]))
        }
        return WorkloadEvent.CodingKeys(stringValue: decode(span))?.slot
    }

    private mutating func readValue() throws(JSONSyntaxError) -> RawValue {
        switch peek() {
        case ASCII.quote: return .string(decode(try scanString()))
        case ASCII.openBrace, ASCII.openBracket:
            try skipValue()
            return .composite
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try readNumber()
        }
    }

    private mutating func skipValue() throws(JSONSyntaxError) {
        switch peek() {
        case ASCII.quote: _ = try scanString()
        case ASCII.openBrace: try skipContainer(closing: ASCII.closeBrace)
        case ASCII.openBracket: try skipContainer(closing: ASCII.closeBracket)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try readNumber()
        }
    }

    private mutating func skipContainer(closing: UInt8) throws(JSONSyntaxError) {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth) levels") }
        depth += 1
        defer { depth -= 1 }
        position += 1
        skipWhitespace()
        if consume(closing) { return }
        repeat {
            skipWhitespace()
            if closing == ASCII.closeBrace {
                guard peek() == ASCII.quote else { throw error("expected a string key") }
                _ = try scanString()
                skipWhitespace()
                try expect(ASCII.colon, "':'")
                skipWhitespace()
            }
            try skipValue()
            skipWhitespace()
        } while try separator(closing: closing)
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= end, memcmp(bytes.baseAddress! + position, word.utf8Start, count) == 0 else {
            throw error("invalid literal")
        }
        position += count
    }
}

extension JSONScanner {
    /// The bytes between a string's quotes.
    struct StringSpan {
        let start: Int, end: Int
        /// Whether the string has escapes, so its bytes are not its value.
        let escaped: Bool
    }

    /// Validates the string at the cursor and moves past its closing quote.
    mutating func scanString() throws(JSONSyntaxError) -> StringSpan {
        position += 1
        let start = position
        var escaped = false
        while position < end {
            let byte = bytes[position]
            if byte == ASCII.quote {
                position += 1
                return StringSpan(start: start, end: position - 1, escaped: escaped)
            }
            if byte == ASCII.backslash {
                escaped = true
                position += 1
                guard position < end else { break }
                switch bytes[position] {
                case ASCII.quote, ASCII.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard position + 4 < end, (1...4).allSatisfy({ hexValue(bytes[position + $0]) != nil }) else {
                        throw error("invalid \\u escape")
                    }
                    position += 4
                default: throw error("invalid escape")
                }
            } else if byte < 0x20 {
                throw error("control character in string")
            }
            position += 1
        }
        throw JSONSyntaxError(message: "unterminated string", offset: start - 1)
    }

    /// The value of a scanned string.
    func decode(_ span: StringSpan) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        guard span.escaped else { return String(decoding: raw, as: UTF8.self) }
        var utf8 = [UInt8]()
        utf8.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == ASCII.backslash else { utf8.append(byte); index += 1; continue }
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var code = hex4(raw, at: index)
                index += 4
                if (0xD800..<0xDC00).contains(code), index + 6 <= raw.count, raw[index] == ASCII.backslash, raw[index + 1] == UInt8(ascii: "u") {
                    let low = hex4(raw, at: index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                UTF8.encode(Unicode.Scalar(code) ?? "\u{FFFD}") { utf8.append($0) }
            default: utf8.append(escape)  // \" \\ \/
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Reads a number per the JSON grammar.
    mutating func readNumber() throws(JSONSyntaxError) -> RawValue {
        let start = position
        _ = consume(ASCII.minus)
        guard position < end, ASCII.isDigit(bytes[position]) else { throw error("unexpected character") }
        if bytes[position] == ASCII.zero {
            position += 1
        } else {
            while position < end, ASCII.isDigit(bytes[position]) { position += 1 }
        }
        let integerEnd = position
        if consume(ASCII.dot) { try digits() }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            if !consume(ASCII.plus) { _ = consume(ASCII.minus) }
            try digits()
        }
        if position == integerEnd, integerEnd - start <= 18 {
            var value = 0
            let negative = bytes[start] == ASCII.minus
            for index in (negative ? start + 1 : start)..<integerEnd { value = value * 10 + Int(bytes[index] - ASCII.zero) }
            if negative { value = -value }
            return .number(Double(value), integer: value)
        }
        guard let number = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)),
            number.isFinite
        else { throw JSONSyntaxError(message: "number out of range", offset: start) }
        return .number(number, integer: EventReader.exactInteger(number))
    }

    private mutating func digits() throws(JSONSyntaxError) {
        guard position < end, ASCII.isDigit(bytes[position]) else { throw error("expected a digit") }
        while position < end, ASCII.isDigit(bytes[position]) { position += 1 }
    }

    private func hex4(_ raw: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 4 | UInt32(hexValue(raw[index + $1]) ?? 0) }
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case ASCII.zero...ASCII.nine: byte - ASCII.zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
