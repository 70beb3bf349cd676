import Foundation

extension WorkloadParser {
    /// The columns a CSV header must name.
    static let requiredColumns: [WorkloadEvent.CodingKeys] = [.timestamp, .model, .provider, .inputTokens, .outputTokens, .latencyMs]

    /// RFC 4180 CSV with a header row. Header names are matched case-insensitively; unknown columns are ignored.
    /// A missing header or required column rejects the whole body; blank lines are skipped and not counted.
    static func parseCSV(_ body: UnsafeBufferPointer<UInt8>) -> WorkloadParseResult {
        var reader = CSVReader(body)
        var cells: [CSVReader.Cell] = []
        var problem = CSVReader.Problem.wellFormed
        repeat {
            guard let next = reader.nextRecord(into: &cells) else {
                return WorkloadParseResult(format: .csv, bodyError: "CSV body must start with a header row")
            }
            problem = next
        } while reader.isBlank(cells)
        guard problem == .wellFormed else {
            return WorkloadParseResult(format: .csv, bodyError: "CSV header row is malformed")
        }
        let header = cells.map { reader.text($0).lowercased() }
        let slots: [Int?]
        switch columnSlots(header) {
        case .success(let found): slots = found
        case .failure(let failure): return WorkloadParseResult(format: .csv, bodyError: failure.reason)
        }

        var result = WorkloadParseResult(format: .csv)
        var row = RawRow()
        var index = 0
        while let problem = reader.nextRecord(into: &cells) {
            if reader.isBlank(cells) { continue }
            defer { index += 1 }
            switch problem {
            case .unterminatedQuote:
                result.append(index, .failure(InvalidField(reason: "row has a quoted field without its closing quote")))
                continue
            case .textAfterQuote(let column):
                let name = column < header.count ? header[column] : "\(column + 1)"
                result.append(index, .failure(InvalidField(reason: "row has text after the closing quote in column \(name)")))
                continue
            case .wellFormed:
                break
            }
            guard cells.count == header.count else {
                let reason = "row has \(cells.count) fields but the header has \(header.count)"
                result.append(index, .failure(InvalidField(reason: reason)))
                continue
            }
            row.reset()
            for (column, slot) in slots.enumerated() {
                guard let slot else { continue }
                let text = reader.text(cells[column])
                row.values[slot] = text.isEmpty ? .absent : .text(text)
            }
            result.append(index, EventReader.read(row))
        }
        return result
    }

    /// The `RawRow` slot of each header column (`nil` for unknown columns).
    private static func columnSlots(_ header: [String]) -> Result<[Int?], InvalidField> {
        var seen = Set<String>()
        var slots: [Int?] = []
        for name in header {
            let key = WorkloadEvent.CodingKeys(stringValue: name)
            if key != nil, !seen.insert(name).inserted {
                return .failure(InvalidField(reason: "CSV header repeats column \(name)"))
            }
            slots.append(key?.slot)
        }
        if let missing = requiredColumns.first(where: { !seen.contains($0.stringValue) }) {
            return .failure(InvalidField(reason: "CSV header is missing required column \(missing.stringValue)"))
        }
        return .success(slots)
    }
}

/// Splits RFC 4180 CSV into records without copying: quoted fields may hold commas, doubled quotes and line breaks;
/// records end with CRLF, LF or CR. Spaces and tabs around a field are not part of it.
struct CSVReader {
    /// One field's bytes (between the quotes when quoted).
    struct Cell {
        let start: Int, end: Int
        let quoted: Bool
        /// Whether the quoted field contains `""`, which stands for one quote.
        let doubledQuotes: Bool
    }

    /// A record the reader could split but that breaks RFC 4180.
    enum Problem: Equatable {
        case wellFormed
        /// A quoted field runs to the end of the body.
        case unterminatedQuote
        /// Something other than a comma or line break follows a closing quote (0-based column).
        case textAfterQuote(column: Int)
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Reads the next record's cells.
    ///
    /// - Returns: `nil` at the end of the body; otherwise whether the record broke RFC 4180.
    mutating func nextRecord(into cells: inout [Cell]) -> Problem? {
        guard position < bytes.count else { return nil }
        cells.removeAll(keepingCapacity: true)
        var problem = Problem.wellFormed
        while true {
            var cursor = skipBlanks(from: position)
            if cursor < bytes.count, bytes[cursor] == ASCII.quote {
                let cell = quotedCell(from: cursor + 1)
                cells.append(cell)
                guard cell.end < bytes.count else {
                    position = bytes.count
                    return .unterminatedQuote
                }
                cursor = skipBlanks(from: cell.end + 1)
                if cursor < bytes.count, !isDelimiter(bytes[cursor]) {
                    if problem == .wellFormed { problem = .textAfterQuote(column: cells.count - 1) }
                    while cursor < bytes.count, !isDelimiter(bytes[cursor]) { cursor += 1 }
                }
            } else {
                cursor = position
                while cursor < bytes.count, !isDelimiter(bytes[cursor]) { cursor += 1 }
                cells.append(Cell(start: position, end: cursor, quoted: false, doubledQuotes: false))
            }
            if cursor >= bytes.count {
                position = bytes.count
                return problem
            }
            position = cursor + 1
            if bytes[cursor] == ASCII.comma { continue }
            if bytes[cursor] == ASCII.carriageReturn, position < bytes.count, bytes[position] == ASCII.lineFeed { position += 1 }
            return problem
        }
    }

    /// Whether a record is an empty line.
    func isBlank(_ cells: [Cell]) -> Bool {
        cells.count == 1 && !cells[0].quoted && text(cells[0]).isEmpty
    }

    /// A cell's value: unquoted cells are trimmed of spaces and tabs; `""` in quoted cells becomes `"`.
    func text(_ cell: Cell) -> String {
        var start = cell.start, end = cell.end
        if !cell.quoted {
            while start < end, isBlank(bytes[start]) { start += 1 }
            while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
        guard cell.doubledQuotes else { return String(decoding: raw, as: UTF8.self) }
        var unescaped = [UInt8]()
        unescaped.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            unescaped.append(raw[index])
            index += raw[index] == ASCII.quote ? 2 : 1
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    /// The cell whose opening quote precedes `start`; its `end` is the closing quote (or the body's end if there is none).
    private func quotedCell(from start: Int) -> Cell {
        var cursor = start, doubled = false
        while cursor < bytes.count {
            if bytes[cursor] == ASCII.quote {
                guard cursor + 1 < bytes.count, bytes[cursor + 1] == ASCII.quote else { break }
                doubled = true
                cursor += 2
            } else {
                cursor += 1
            }
        }
        return Cell(start: start, end: cursor, quoted: true, doubledQuotes: doubled)
    }

    private func skipBlanks(from start: Int) -> Int {
        var cursor = start
        while cursor < bytes.count, isBlank(bytes[cursor]) { cursor += 1 }
        return cursor
    }

    private func isBlank(_ byte: UInt8) -> Bool { byte == ASCII.space || byte == ASCII.tab }

    private func isDelimiter(_ byte: UInt8) -> Bool {
        byte == ASCII.comma || byte == ASCII.lineFeed || byte == ASCII.carriageReturn
    }
}
