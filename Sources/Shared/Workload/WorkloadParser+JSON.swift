import Foundation

extension WorkloadParser {
    /// A JSON array of objects. Any syntax error rejects the whole body with one error at index -1.
    static func parseJSONArray(_ body: UnsafeBufferPointer<UInt8>) -> WorkloadParseResult {
        var result = WorkloadParseResult(format: .json)
        var scanner = JSONScanner(body, from: 0, to: body.count)
        var row = RawRow()
        do throws(JSONSyntaxError) {
            scanner.skipWhitespace()
            if scanner.peek() == ASCII.openBrace {
                return WorkloadParseResult(
                    format: .json,
                    bodyError: "JSON body must be an array of event objects; send one object per line as application/x-ndjson")
            }
            try scanner.expect(ASCII.openBracket, "'['")
            scanner.skipWhitespace()
            if !scanner.consume(ASCII.closeBracket) {
                var index = 0
                repeat {
                    row.reset()
                    let isObject = try scanner.readRow(into: &row)
                    result.append(index, isObject ? EventReader.read(row) : .failure(InvalidField(reason: "row must be a JSON object")))
                    index += 1
                    scanner.skipWhitespace()
                } while try scanner.separator(closing: ASCII.closeBracket)
            }
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw scanner.error("unexpected text after the array") }
        } catch {
            return WorkloadParseResult(format: .json, bodyError: "body is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        return result
    }

    /// One JSON object per line; blank lines are skipped and not counted. A malformed line is an error for that row only.
    static func parseNDJSON(_ body: UnsafeBufferPointer<UInt8>) -> WorkloadParseResult {
        var result = WorkloadParseResult(format: .ndjson)
        var row = RawRow()
        var lineStart = 0, index = 0
        while lineStart < body.count {
            let lineStartAddress = UnsafeRawPointer(body.baseAddress! + lineStart)
            let lineEnd = memchr(lineStartAddress, Int32(ASCII.lineFeed), body.count - lineStart)
                .map { lineStart + (UnsafeRawPointer($0) - lineStartAddress) } ?? body.count
            var scanner = JSONScanner(body, from: lineStart, to: lineEnd)
            scanner.skipWhitespace()
            if !scanner.atEnd {
                row.reset()
                do throws(JSONSyntaxError) {
                    let isObject = try scanner.readRow(into: &row)
                    scanner.skipWhitespace()
                    guard scanner.atEnd else { throw scanner.error("unexpected text after the value") }
                    result.append(index, isObject ? EventReader.read(row) : .failure(InvalidField(reason: "row must be a JSON object")))
                } catch {
                    let reason = "line is not valid JSON: \(error.message) at column \(error.offset - lineStart + 1)"
                    result.append(index, .failure(InvalidField(reason: reason)))
                }
                index += 1
            }
            lineStart = lineEnd + 1
        }
        return result
    }
}
