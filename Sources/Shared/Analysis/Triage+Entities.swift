import Foundation

/// The word-level rules of ``WorkloadAnalysis/triage(_:catalog:features:now:)``.
enum TriageText {
    /// Lowercased runs of letters and digits: `"Why is my P99-latency?"` → `why is my p99 latency`.
    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Whether `keyword`'s words follow each other in `words`; a word ending in `*` matches any word it starts.
    static func contains(_ words: [String], keyword: String) -> Bool {
        let parts = keyword.split(separator: " ").map(String.init)
        guard !parts.isEmpty, words.count >= parts.count else { return false }
        return (0...(words.count - parts.count)).contains { start in
            parts.indices.allSatisfy { offset in
                let (word, part) = (words[start + offset], parts[offset])
                return part.hasSuffix("*") ? word.hasPrefix(part.dropLast()) : word == part
            }
        }
    }

    // MARK: Models and features

    /// Model-name words: ``words(_:)`` with `.` as a separator too and letters split from following digits, so that
    /// `GPT4o`, `gpt 4o` and `gpt-4o` all read `gpt 4o`, and `claude 3.5 haiku` reads like `claude-3-5-haiku`.
    static func modelWords(_ text: String) -> [String] {
        words(text).flatMap { word -> [String] in
            var parts: [String] = []
            var current = ""
            for character in word {
                if character.isNumber, let last = current.last, last.isLetter {
                    parts.append(current)
                    current = ""
                }
                current.append(character)
            }
            return parts + [current]
        }
    }

    /// Model-name words too common to name a family on their own ("mini", "flash", …).
    static let genericModelWords: Set<String> = [
        "instruct", "mini", "nano", "flash", "lite", "pro", "chat", "large", "medium", "small", "reasoner", "turbo", "preview", "latest",
    ]

    /// Catalog model names in order of first mention: at each word the longest full model name wins; otherwise a
    /// family word (a catalog word of 4+ letters such as "sonnet", "haiku", "llama") names every model containing it
    /// and the model words that follow it ("llama 70b" → both 70b Llamas), as many of them as still fit a model.
    static func models(in message: String, catalog: [SupplyModel]) -> [String] {
        var names: [String] = []
        for offer in catalog where !names.contains(where: { $0.caseInsensitiveCompare(offer.model) == .orderedSame }) {
            names.append(offer.model)
        }
        let known = names.map { (name: $0, words: modelWords($0)) }
        let vocabulary = Set(known.flatMap(\.words))
        let families = vocabulary.filter { $0.count >= 4 && $0.allSatisfy(\.isLetter) && !genericModelWords.contains($0) }
        let text = modelWords(message)
        var found: [String] = []
        var index = 0
        while index < text.count {
            if let exact = known.filter({ matches(text, at: index, $0.words) }).max(by: { $0.words.count < $1.words.count }) {
                found.append(exact.name)
                index += exact.words.count
            } else if families.contains(text[index]) {
                var qualifiers: [String] = []
                var next = index + 1
                while next < text.count, text[next].contains(where: \.isNumber) || vocabulary.contains(text[next]),
                    !families.contains(text[next]), !known.contains(where: { matches(text, at: next, $0.words) })
                {
                    qualifiers.append(text[next])
                    next += 1
                }
                let family = known.filter { $0.words.contains(text[index]) }
                // The most qualifiers that still leave a model; the rest are not about the model.
                var used = qualifiers.count
                while used > 0, !family.contains(where: { model in qualifiers.prefix(used).allSatisfy(model.words.contains) }) { used -= 1 }
                found += family.filter { model in qualifiers.prefix(used).allSatisfy(model.words.contains) }.map(\.name)
                index += 1 + used
            } else {
                index += 1
            }
        }
        return unique(found)
    }

    /// The tenant's features in order of first mention, the longest name winning where two overlap
    /// (`support-chat` is not also `chat`).
    static func features(in message: String, features: [String]) -> [String] {
        let known = features.map { (name: $0, words: words($0)) }.filter { !$0.words.isEmpty }
        let text = words(message)
        var found: [String] = []
        var index = 0
        while index < text.count {
            if let match = known.filter({ matches(text, at: index, $0.words) }).max(by: { $0.words.count < $1.words.count }) {
                found.append(match.name)
                index += match.words.count
            } else {
                index += 1
            }
        }
        return unique(found)
    }

    static func matches(_ text: [String], at index: Int, _ name: [String]) -> Bool {
        index + name.count <= text.count && zip(text[index...], name).allSatisfy { $0 == $1 }
    }

    static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    // MARK: Money

    /// Words that may stand between "budget" and its amount ("budget of", "budget is around").
    static let budgetConnectors: Set<String> = ["of", "is", "at", "to", "around", "about", "approximately", "roughly", "be", "will"]

    /// The first money amount: a number preceded or followed by `$`, followed by `dollars`/`usd`/`bucks`, preceded by
    /// `usd`, followed by "budget", or following "budget" (through ``budgetConnectors``). `k`/`thousand` and `m`/`million` multiply;
    /// thousands separators are commas.
    static func money(in message: String) -> Double? {
        let characters = Array(message.lowercased())
        var index = 0
        while index < characters.count {
            let startsNumber = characters[index].isASCII && characters[index].isNumber
            let attached = index > 0 && (characters[index - 1].isLetter || characters[index - 1].isNumber || characters[index - 1] == ".")
            guard startsNumber, !attached, let number = number(characters, at: index) else {
                index += 1
                continue
            }
            let (multiplier, afterSuffix) = multiplier(characters, at: number.end)
            if isMoney(characters, start: index, end: afterSuffix) { return number.value * multiplier }
            index = number.end
        }
        return nil
    }

    /// A number at `start`: digits with optional `,ddd` groups and one decimal part.
    static func number(_ characters: [Character], at start: Int) -> (value: Double, end: Int)? {
        var text = ""
        var index = start
        let digit = { (position: Int) in position < characters.count && characters[position].isASCII && characters[position].isNumber }
        while digit(index) {
            text.append(characters[index])
            index += 1
            if index < characters.count, characters[index] == ",", (1...3).allSatisfy({ digit(index + $0) }), !digit(index + 4) {
                index += 1
            }
        }
        if index < characters.count, characters[index] == ".", digit(index + 1) {
            text.append(".")
            index += 1
            while digit(index) {
                text.append(characters[index])
                index += 1
            }
        }
        return Double(text).map { ($0, index) }
    }

    /// `k`, `m` (attached), `thousand`, `million` (after optional spaces) and where they end.
    static func multiplier(_ characters: [Character], at start: Int) -> (Double, Int) {
        for (word, value, spaced) in [("k", 1e3, false), ("m", 1e6, false), ("thousand", 1e3, true), ("million", 1e6, true)] {
            var index = start
            if spaced { while index < characters.count, characters[index] == " " { index += 1 } }
            if let end = wordEnd(characters, at: index, word) { return (value, end) }
        }
        return (1, start)
    }

    /// Where `word` ends when it is at `index` and not followed by a letter.
    static func wordEnd(_ characters: [Character], at index: Int, _ word: String) -> Int? {
        let end = index + word.count
        guard end <= characters.count, String(characters[index..<end]) == word else { return nil }
        return end < characters.count && characters[end].isLetter ? nil : end
    }

    /// Whether the number spanning `start..<end` is money by its neighbours.
    static func isMoney(_ characters: [Character], start: Int, end: Int) -> Bool {
        var before = start - 1
        while before >= 0, characters[before] == " " { before -= 1 }
        var after = end
        while after < characters.count, characters[after] == " " { after += 1 }
        if before >= 0, characters[before] == "$" { return true }
        if after < characters.count, characters[after] == "$" { return true }
        if ["dollars", "dollar", "usd", "bucks"].contains(where: { wordEnd(characters, at: after, $0) != nil }) { return true }
        // Only the nearby text is read, so a long message with many numbers stays linear.
        if words(String(characters[after..<min(characters.count, after + 16)])).first?.hasPrefix("budget") == true { return true }
        let previous = words(String(characters[max(0, start - 48)..<start]))
        if previous.last == "usd" { return true }
        for word in previous.reversed() {
            if word.hasPrefix("budget") { return true }
            if !budgetConnectors.contains(word) { return false }
        }
        return false
    }

    // MARK: Time ranges

    /// The first time range named in `words`, or the 30 days before `now`.
    static func timeRange(_ words: [String], now: Date) -> TimeRange {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let clock = TriageClock(now: now, calendar: calendar)
        for index in words.indices {
            if let range = clock.range(words, at: index) { return range }
        }
        return TimeRange(from: now.addingTimeInterval(-30 * 86_400), to: now, label: "last 30 days", isDefault: true)
    }
}

/// Calendar arithmetic of triage's time ranges, in UTC.
struct TriageClock {
    var now: Date
    var calendar: Calendar

    enum Unit: String {
        case hour, day, week, month
    }

    static let numberWords = [
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
        "twelve": 12,
    ]

    /// The range that starts at `words[index]`, if one does.
    func range(_ words: [String], at index: Int) -> TimeRange? {
        let word = words[index]
        let next = index + 1 < words.count ? words[index + 1] : nil
        let after = index + 2 < words.count ? words[index + 2] : nil
        let today = calendar.startOfDay(for: now)
        switch word {
        case "today": return TimeRange(from: today, to: now, label: "today (\(day(today)))")
        case "yesterday":
            let start = today.addingTimeInterval(-86_400)
            return TimeRange(from: start, to: today, label: "yesterday (\(day(start)))")
        case "this" where next == "month" || next == "week":
            let start = next == "month" ? (calendar.dateInterval(of: .month, for: now)?.start ?? today) : monday(onOrBefore: today)
            let label = next == "month" ? "this month (\(month(start)))" : "this week (from \(day(start)))"
            return TimeRange(from: start, to: now, label: label)
        case "last", "past", "previous", "prior":
            if let unit = next.flatMap(Self.unit) {
                if unit == .month, word != "past" {
                    let thisMonth = calendar.dateInterval(of: .month, for: now)?.start ?? today
                    let start = calendar.date(byAdding: .month, value: -1, to: thisMonth) ?? thisMonth
                    return TimeRange(from: start, to: thisMonth, label: "last month (\(month(start)))")
                }
                return rolling(1, unit)
            }
            if let next, let count = Int(next) ?? Self.numberWords[next], count > 0, let unit = after.flatMap(Self.unit) {
                return rolling(count, unit)
            }
            if let next, let (count, unit) = Self.compact(next) { return rolling(count, unit) }
            return nil
        default: return nil
        }
    }

    /// `day`, `days`, `hrs`, … as a unit.
    static func unit(_ word: String) -> Unit? {
        switch word {
        case "hour", "hours", "hr", "hrs", "h": .hour
        case "day", "days", "d": .day
        case "week", "weeks", "wk", "wks", "w": .week
        case "month", "months", "mo": .month
        default: nil
        }
    }

    /// `24h`, `7d`, `2w` as a count and unit.
    static func compact(_ word: String) -> (Int, Unit)? {
        guard let last = word.last, let count = Int(word.dropLast()), count > 0, let unit = unit(String(last)) else { return nil }
        return (count, unit)
    }

    /// The `count` units before `now`.
    func rolling(_ count: Int, _ unit: Unit) -> TimeRange {
        let start: Date =
            switch unit {
            case .hour: now.addingTimeInterval(-Double(count) * 3_600)
            case .day: now.addingTimeInterval(-Double(count) * 86_400)
            case .week: now.addingTimeInterval(-Double(count) * 7 * 86_400)
            case .month: calendar.date(byAdding: .month, value: -count, to: now) ?? now
            }
        let label = count == 1 ? "last \(unit.rawValue)" : "last \(count) \(unit.rawValue)s"
        return TimeRange(from: start, to: now, label: label)
    }

    /// The Monday of the week of `day` (ISO weeks start on Monday).
    func monday(onOrBefore day: Date) -> Date {
        let weekday = calendar.component(.weekday, from: day)  // 1 = Sunday … 7 = Saturday
        return day.addingTimeInterval(-Double((weekday + 5) % 7) * 86_400)
    }

    /// `YYYY-MM-DD`.
    func day(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// `YYYY-MM`.
    func month(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month], from: date)
        return String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0)
    }
}
