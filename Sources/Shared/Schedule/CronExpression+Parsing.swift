/// Parses cron text into five ``CronField``s, reporting errors by field and 1-based character offset.
struct CronParser {
    /// The field layout, for count errors.
    static let fieldList = "5 fields (minute hour day-of-month month day-of-week)"
    /// Each macro (lower-case) and the fields it stands for.
    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    /// The macros, for the unknown-macro error.
    static let macroList = "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"

    private let text: [Character]

    /// Parses `text`; offsets in errors count its `Character`s from 1.
    init(_ text: String) { self.text = Array(text) }

    /// The fields, minute first.
    func parse() throws(CronError) -> [CronField] {
        let tokens = fieldRanges()
        if let first = tokens.first, text[first.lowerBound] == "@" { return try parseMacro(tokens) }
        guard tokens.count == 5 else { throw countError(tokens) }
        var fields: [CronField] = []
        for (index, kind) in CronFieldKind.allCases.enumerated() {
            fields.append(try CronFieldParser(text: text, kind: kind).parse(tokens[index]))
        }
        return fields
    }

    /// The ranges of the runs of non-whitespace characters.
    private func fieldRanges() -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start: Int?
        for index in 0...text.count {
            let isSeparator = index == text.count || text[index].isWhitespace
            if isSeparator, let begin = start {
                ranges.append(begin..<index)
                start = nil
            } else if !isSeparator, start == nil {
                start = index
            }
        }
        return ranges
    }

    private func parseMacro(_ tokens: [Range<Int>]) throws(CronError) -> [CronField] {
        let name = String(text[tokens[0]])
        guard let expansion = Self.macros[name.lowercased()] else {
            throw expressionError(1, tokens[0].lowerBound, "unknown macro \(name); expected \(Self.macroList)")
        }
        guard tokens.count == 1 else {
            throw expressionError(2, tokens[1].lowerBound, "\(name) must stand alone, but a field follows it")
        }
        return try CronParser(expansion).parse()
    }

    private func countError(_ tokens: [Range<Int>]) -> CronError {
        if tokens.isEmpty {
            return expressionError(1, text.count, "empty; expected \(Self.fieldList) or a macro such as @daily")
        }
        if tokens.count > 5 {
            let detail = "expected \(Self.fieldList) but found \(tokens.count); seconds and years are not supported"
            return expressionError(6, tokens[5].lowerBound, detail)
        }
        let missing = CronFieldKind.allCases[tokens.count...].map(\.name).joined(separator: " and ")
        let verb = tokens.count == 4 ? "is" : "are"
        let detail = "expected \(Self.fieldList) but found \(tokens.count); \(missing) \(verb) missing"
        return expressionError(tokens.count + 1, text.count, detail)
    }

    private func expressionError(_ field: Int, _ offset: Int, _ detail: String) -> CronError {
        CronError(field: CronError.expressionField, position: .init(field: field, character: offset + 1), detail: detail)
    }
}

/// Parses one field: a comma-separated list of `*`, `a`, `a-b`, each optionally followed by `/step`.
struct CronFieldParser {
    /// The whole expression, so that errors carry offsets into it.
    let text: [Character]
    let kind: CronFieldKind

    /// The values of the field that occupies `range` of ``text``.
    func parse(_ range: Range<Int>) throws(CronError) -> CronField {
        var field = CronField(isWildcard: text[range.lowerBound] == "*")
        var itemStart = range.lowerBound
        for index in range.lowerBound...range.upperBound where index == range.upperBound || text[index] == "," {
            try parseItem(itemStart..<index, into: &field)
            itemStart = index + 1
        }
        return field
    }

    private func parseItem(_ item: Range<Int>, into field: inout CronField) throws(CronError) {
        guard !item.isEmpty else { throw error(at: item.lowerBound, "empty list item") }
        let slash = text[item].firstIndex(of: "/")
        let base = item.lowerBound..<(slash ?? item.upperBound)
        let (low, high) = try parseBase(base, stepped: slash != nil)
        guard low <= high else {
            throw error(at: item.lowerBound, "range \(String(text[base])) is reversed; the start must not exceed the end")
        }
        var step = 1
        if let slash { step = try parseStep(slash + 1..<item.upperBound) }
        for value in stride(from: low, through: high, by: step) { field.insert(kind.folded(value)) }
    }

    /// The first and last value of `*`, `a` or `a-b`; a lone `a` with a step runs to the field's maximum.
    private func parseBase(_ base: Range<Int>, stepped: Bool) throws(CronError) -> (Int, Int) {
        guard !base.isEmpty else { throw error(at: base.lowerBound, "a value is missing before /") }
        if base.count == 1, text[base.lowerBound] == "*" { return (kind.bounds.lowerBound, kind.bounds.upperBound) }
        guard let dash = text[base].dropFirst().firstIndex(of: "-") else {
            let value = try parseValue(base).value
            return (value, stepped ? kind.bounds.upperBound : value)
        }
        let low = try parseValue(base.lowerBound..<dash).value
        guard dash + 1 < base.upperBound else { throw error(at: dash, "the range end is missing after -") }
        let high = try parseValue(dash + 1..<base.upperBound)
        // `SUN` ends a range as 7, so `MON-SUN` and `FRI-SUN` read as people mean them.
        if kind == .dayOfWeek, high.isName, high.value == 0, low > 0 { return (low, 7) }
        return (low, high.value)
    }

    private func parseValue(_ range: Range<Int>) throws(CronError) -> (value: Int, isName: Bool) {
        let token = String(text[range])
        if !token.isEmpty, token.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard token.count <= 4, let value = Int(token), kind.bounds.contains(value) else {
                throw error(at: range.lowerBound, "\(token) is out of range \(kind.bounds.lowerBound)–\(kind.bounds.upperBound)")
            }
            return (value, false)
        }
        if let names = kind.names, let index = names.list.firstIndex(of: token.uppercased()) {
            return (index + names.first, true)
        }
        guard let names = kind.names else { throw error(at: range.lowerBound, "\"\(token)\" is not a number") }
        let noun = kind == .month ? "month" : "weekday"
        let span = "\(names.list[0])–\(names.list[names.list.count - 1])"
        throw error(at: range.lowerBound, "\"\(token)\" is not a number or a \(noun) name (\(span))")
    }

    private func parseStep(_ range: Range<Int>) throws(CronError) -> Int {
        let token = String(text[range])
        let largest = kind.stored.count
        guard !token.isEmpty else { throw error(at: range.lowerBound - 1, "the step is missing after /") }
        guard token.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw error(at: range.lowerBound, "step \"\(token)\" is not a number")
        }
        guard token.count <= 4, let step = Int(token), (1...largest).contains(step) else {
            throw error(at: range.lowerBound, "step \(token) must be from 1 to \(largest)")
        }
        return step
    }

    private func error(at offset: Int, _ detail: String) -> CronError {
        CronError(field: kind.name, position: .init(field: kind.rawValue + 1, character: offset + 1), detail: detail)
    }
}

extension CronField {
    /// The canonical text of the field; it starts with `*` exactly when ``isWildcard`` is set.
    func rendered(_ kind: CronFieldKind) -> String {
        let values = kind.stored.filter(contains)
        if isWildcard {
            if values.count == kind.stored.count { return "*" }
            // The smallest step whose progression from the field's start is matched; list what it leaves out.
            let progression = { (step: Int) in
                Set(stride(from: kind.bounds.lowerBound, through: kind.bounds.upperBound, by: step).map(kind.folded))
            }
            let step = (2...kind.stored.count).first { progression($0).allSatisfy(contains) } ?? kind.stored.count
            let covered = progression(step)
            return (["*/\(step)"] + Self.runs(values.filter { !covered.contains($0) })).joined(separator: ",")
        }
        if values.count >= 4 {
            let step = values[1] - values[0]
            if step > 1, zip(values, values.dropFirst()).allSatisfy({ $1 - $0 == step }) {
                return "\(values[0])-\(values[values.count - 1])/\(step)"
            }
        }
        return Self.runs(values).joined(separator: ",")
    }

    /// Sorted values as `a-b` for runs of three or more and single values otherwise.
    private static func runs(_ values: [Int]) -> [String] {
        var parts: [String] = []
        var index = 0
        while index < values.count {
            var end = index
            while end + 1 < values.count, values[end + 1] == values[end] + 1 { end += 1 }
            if end - index >= 2 {
                parts.append("\(values[index])-\(values[end])")
            } else {
                parts.append(contentsOf: values[index...end].map(String.init))
            }
            index = end + 1
        }
        return parts
    }
}
