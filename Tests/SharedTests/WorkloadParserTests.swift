import Foundation
import Shared
import Testing

@Suite("Parsing and validating uploaded workload events")
struct WorkloadParserTests {
    /// The required members of a valid row, in order, as JSON text.
    static let required: [(key: String, value: String)] = [
        ("timestamp", #""2025-03-01T12:30:00Z""#), ("model", #""gpt-4o""#), ("provider", #""openai""#),
        ("input_tokens", "100"), ("output_tokens", "20"), ("latency_ms", "350.5"),
    ]
    static let minimalEvent = WorkloadEvent(
        timestamp: Date(timeIntervalSince1970: 1_740_832_200), model: "gpt-4o", provider: "openai", inputTokens: 100, outputTokens: 20,
        latencyMs: 350.5)

    /// A JSON object with the required members, `key` replaced by `value` (removed when `value` is nil), plus `extra`.
    static func row(_ key: String = "", _ value: String? = nil, extra: String = "") -> String {
        var members = required.compactMap { member -> String? in
            guard member.key == key else { return #""\#(member.key)":\#(member.value)"# }
            return value.map { #""\#(key)":\#($0)"# }
        }
        if !extra.isEmpty { members.append(extra) }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func parse(_ text: String, _ format: WorkloadFormat? = nil) -> WorkloadParseResult {
        WorkloadParser.parse(Array(text.utf8), format: format)
    }

    @Test func jsonArrayReadsEveryFieldAndDefaultsTheRest() throws {
        let full = Self.row(extra: """
            "status":"timeout","cached_input_tokens":40,"reasoning_tokens":5,"ttft_ms":120.25,"prompt_hash":"p1",\
            "prefix_hash":"x1","prefix_tokens":60,"max_tokens":4096,"feature":"classify","user":"user-7","interactive":false,"cost_usd":0.0125
            """)
        let result = Self.parse("[\(full), \(Self.row())]")
        #expect(result.format == .json && result.errors.isEmpty && !result.isBodyRejected)
        #expect(result.eventIndices == [0, 1] && result.rowCount == 2)
        let expected = WorkloadEvent(
            timestamp: Date(timeIntervalSince1970: 1_740_832_200), model: "gpt-4o", provider: "openai", inputTokens: 100, outputTokens: 20,
            cachedInputTokens: 40, reasoningTokens: 5, latencyMs: 350.5, ttftMs: 120.25, status: .timeout, promptHash: "p1", prefixHash: "x1",
            prefixTokens: 60, maxTokens: 4096, feature: "classify", user: "user-7", interactive: false, costUSD: 0.0125)
        #expect(result.events == [expected, Self.minimalEvent])
        #expect(result.events[1].status == .ok)
    }

    @Test func nullsEmptyOptionalStringsAndUnknownFieldsAreIgnored() {
        let extra = #""status":null,"feature":"","user":null,"tags":{"team":["a",{"b":[1.5e3,true,null]}]},"note":"\u00e9\n""#
        let result = Self.parse("[\(Self.row(extra: extra))]")
        #expect(result.errors.isEmpty)
        #expect(result.events == [Self.minimalEvent])
    }

    @Test func stringEscapesAndKeysWithEscapesDecode() {
        let result = Self.parse(#"[\#(Self.row("model", #""a\"b\\c\u00e9\ud83d\ude00\/""#, extra: #""f\u0065ature":"x""#))]"#)
        #expect(result.events.first?.model == "a\"b\\cé😀/")
        #expect(result.events.first?.feature == "x")
    }

    @Test(arguments: [
        (#""2025-03-01T12:30:00Z""#, 1_740_832_200.0),
        (#""2025-03-01T12:30:00.250Z""#, 1_740_832_200.25),
        (#""2025-03-01T14:30:00+02:00""#, 1_740_832_200.0),
        (#""2025-03-01t12:30:00.5z""#, 1_740_832_200.5),
        (#""2025-03-01 07:00:00.125-05:30""#, 1_740_832_200.125),
        ("1740832200", 1_740_832_200.0),
        ("1740832200.25", 1_740_832_200.25),
        (#""1740832200""#, 1_740_832_200.0),
    ])
    func timestampsAreRFC3339OrUnixSeconds(json: String, seconds: Double) throws {
        let result = Self.parse("[\(Self.row("timestamp", json))]")
        let event = try #require(result.events.first, "\(result.errors)")
        #expect(event.timestamp == Date(timeIntervalSince1970: seconds))
    }

    @Test func millisecondTimestampsRoundTripExactly() {
        let result = Self.parse("[\(Self.row("timestamp", #""2025-05-25T00:00:03.007Z""#))]")
        #expect(result.events.first?.timestamp == Date(timeIntervalSince1970: Double(1_748_131_203_007) / 1_000))
    }

    /// One broken rule: the member replaced (or added) and the reason the row must get.
    struct RuleCase: Sendable, CustomTestStringConvertible {
        var key = "", value: String?, extra = ""
        let reason: String
        var testDescription: String { reason }
    }

    static let long201 = "\"" + String(repeating: "é", count: 201) + "\""
    static let ruleCases: [RuleCase] = [
        RuleCase(key: "timestamp", value: nil, reason: "missing required field timestamp"),
        RuleCase(key: "timestamp", value: "null", reason: "missing required field timestamp"),
        RuleCase(key: "timestamp", value: #""2025-03-01T12:30:00""#, reason: "timestamp must be RFC 3339 or Unix seconds"),
        RuleCase(key: "timestamp", value: #""2025-02-30T12:30:00Z""#, reason: "timestamp must be RFC 3339 or Unix seconds"),
        RuleCase(key: "timestamp", value: #""yesterday""#, reason: "timestamp must be RFC 3339 or Unix seconds"),
        RuleCase(key: "timestamp", value: "-1", reason: "timestamp must be RFC 3339 or Unix seconds"),
        RuleCase(key: "timestamp", value: "1740832200000", reason: "timestamp must be RFC 3339 or Unix seconds"),
        RuleCase(key: "timestamp", value: "true", reason: "timestamp must be RFC 3339 or Unix seconds"),
        RuleCase(key: "model", value: nil, reason: "missing required field model"),
        RuleCase(key: "model", value: #""""#, reason: "model must be a non-empty string of at most 200 characters"),
        RuleCase(key: "model", value: long201, reason: "model must be a non-empty string of at most 200 characters"),
        RuleCase(key: "provider", value: nil, reason: "missing required field provider"),
        RuleCase(key: "provider", value: "42", reason: "provider must be a non-empty string of at most 100 characters"),
        RuleCase(
            key: "provider", value: "\"" + String(repeating: "p", count: 101) + "\"",
            reason: "provider must be a non-empty string of at most 100 characters"),
        RuleCase(key: "input_tokens", value: nil, reason: "missing required field input_tokens"),
        RuleCase(key: "input_tokens", value: "-1", reason: "input_tokens must be a non-negative integer"),
        RuleCase(key: "input_tokens", value: "1.5", reason: "input_tokens must be a non-negative integer"),
        RuleCase(key: "input_tokens", value: #""100""#, reason: "input_tokens must be a non-negative integer"),
        RuleCase(key: "input_tokens", value: "10000001", reason: "input_tokens must be at most 10,000,000"),
        RuleCase(key: "output_tokens", value: nil, reason: "missing required field output_tokens"),
        RuleCase(key: "output_tokens", value: "[20]", reason: "output_tokens must be a non-negative integer"),
        RuleCase(key: "latency_ms", value: nil, reason: "missing required field latency_ms"),
        RuleCase(key: "latency_ms", value: "-0.5", reason: "latency_ms must be a number from 0 to 86400000"),
        RuleCase(key: "latency_ms", value: #""fast""#, reason: "latency_ms must be a non-negative number"),
        RuleCase(value: nil, extra: #""status":"failed""#, reason: "status must be one of ok, error, timeout"),
        RuleCase(value: nil, extra: #""status":1"#, reason: "status must be one of ok, error, timeout"),
        RuleCase(value: nil, extra: #""cached_input_tokens":101"#, reason: "cached_input_tokens must not exceed input_tokens"),
        RuleCase(value: nil, extra: #""prefix_tokens":150"#, reason: "prefix_tokens must not exceed input_tokens"),
        RuleCase(value: nil, extra: #""reasoning_tokens":-3"#, reason: "reasoning_tokens must be a non-negative integer"),
        RuleCase(value: nil, extra: #""max_tokens":1e8"#, reason: "max_tokens must be at most 10,000,000"),
        RuleCase(value: nil, extra: #""ttft_ms":"soon""#, reason: "ttft_ms must be a non-negative number"),
        RuleCase(value: nil, extra: #""cost_usd":-0.01"#, reason: "cost_usd must be a number from 0 to 1000000"),
        // Sums over many rows must stay finite, and PostgreSQL text cannot hold U+0000.
        RuleCase(value: nil, extra: #""cost_usd":1e300"#, reason: "cost_usd must be a number from 0 to 1000000"),
        RuleCase(key: "model", value: #""gpt\u0000x""#, reason: "model must not contain NUL characters"),
        RuleCase(value: nil, extra: #""interactive":"yes""#, reason: "interactive must be true or false"),
        RuleCase(value: nil, extra: #""interactive":1"#, reason: "interactive must be true or false"),
        RuleCase(value: nil, extra: #""feature":\#(long201)"#, reason: "feature must be a string of at most 200 characters"),
        RuleCase(value: nil, extra: #""user":12345"#, reason: "user must be a string of at most 200 characters"),
        RuleCase(value: nil, extra: #""prompt_hash":["a"]"#, reason: "prompt_hash must be a string of at most 200 characters"),
        RuleCase(value: nil, extra: #""prefix_hash":false"#, reason: "prefix_hash must be a string of at most 200 characters"),
    ]

    @Test(arguments: ruleCases)
    func eachRuleRejectsOnlyItsRowWithAReason(_ rule: RuleCase) {
        let broken = Self.row(rule.key, rule.value, extra: rule.extra)
        let json = Self.parse("[\(Self.row()),\(broken),\(Self.row())]")
        #expect(json.errors == [RowError(index: 1, reason: rule.reason)])
        #expect(json.eventIndices == [0, 2] && json.rowCount == 3)
        let ndjson = Self.parse("\(Self.row())\n\n\(broken)\n", .ndjson)
        #expect(ndjson.errors == [RowError(index: 1, reason: rule.reason)])
    }

    @Test func aRepeatedKeyKeepsItsLastValue() {
        #expect(Self.parse("[\(Self.row(extra: #""model":"gpt-4.1""#))]").events.first?.model == "gpt-4.1")
    }

    @Test func limitsAreInclusive() {
        let model = String(repeating: "é", count: 200)
        let limits = #"{"timestamp":0,"model":"\#(model)","provider":"\#(String(repeating: "p", count: 100))","#
            + #""input_tokens":10000000,"cached_input_tokens":10000000,"prefix_tokens":10000000,"output_tokens":0,"latency_ms":0}"#
        let result = Self.parse("[\(limits)]")
        #expect(result.errors.isEmpty)
        #expect(result.events.first?.inputTokens == 10_000_000 && result.events.first?.model == model)
    }

    @Test func nonObjectElementsAreRowErrors() {
        let result = Self.parse(#"[\#(Self.row()), 5, "x", null, \#(Self.row())]"#)
        #expect(result.errors == [1, 2, 3].map { RowError(index: $0, reason: "row must be a JSON object") })
        #expect(result.eventIndices == [0, 4])
    }

    @Test(arguments: ["[", "[{]", #"[{"a":1,}]"#, "[1 2]", "[] []", #"[{"a":tru}]"#, #"[{"a":"x"#, "[01]", "", #"[{"a":"\x"}]"#, "[\"a\tb\"]"])
    func malformedJSONRejectsTheWholeBody(_ body: String) throws {
        let result = Self.parse(body, .json)
        let error = try #require(result.errors.first)
        #expect(result.errors.count == 1 && result.isBodyRejected)
        #expect(error.index == RowError.bodyIndex && error.reason.hasPrefix("body is not valid JSON: "))
        #expect(result.events.isEmpty && result.rowCount == 0)
    }

    @Test func deepNestingIsRejectedNotRecursedInto() {
        let body = "[{\"x\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}]"
        #expect(Self.parse(body).errors == [RowError(index: -1, reason: "body is not valid JSON: nesting deeper than 64 levels at byte 70")])
    }

    @Test func aSingleObjectSentAsJSONPointsToNDJSON() {
        let result = Self.parse(Self.row(), .json)
        #expect(result.errors.map(\.index) == [-1])
        #expect(result.errors.first?.reason.contains("application/x-ndjson") == true)
    }

    @Test func ndjsonCountsNonBlankLinesAndKeepsGoingAfterABadLine() {
        let body = "\(Self.row())\r\n\r\n   \n{oops\n[1]\n\(Self.row()) trailing\n\(Self.row())"
        let result = Self.parse(body)
        #expect(result.format == .ndjson)
        #expect(result.eventIndices == [0, 4] && result.rowCount == 5)
        #expect(result.errors == [
            RowError(index: 1, reason: "line is not valid JSON: expected a string key at column 2"),
            RowError(index: 2, reason: "row must be a JSON object"),
            RowError(index: 3, reason: "line is not valid JSON: unexpected text after the value at column 132"),
        ])
    }

    static let csvHeader = "timestamp,Model,provider,input_tokens,output_tokens,latency_ms,feature,interactive,status,notes"

    @Test func csvReadsQuotedFieldsCRLFAndEmptyCells() {
        let body = "\u{FEFF}\(Self.csvHeader)\r\n"
            + "2025-03-01T12:30:00Z,gpt-4o,openai,100,20,350.5,\"summarize, daily \"\"v2\"\"\",TRUE,,\"a\r\nb\"\r\n"
            + "\r\n"
            + " 1740832200 , gpt-4o-mini , openai ,  7 ,0,1e3,,0,error,\n"
            + "1740832200.5,m,p,1,2,3,,,TIMEOUT,x"
        let result = Self.parse(body)
        #expect(result.format == .csv && result.errors.isEmpty)
        #expect(result.eventIndices == [0, 1, 2])
        #expect(result.events.map(\.feature) == ["summarize, daily \"v2\"", nil, nil])
        #expect(result.events.map(\.interactive) == [true, false, nil])
        #expect(result.events.map(\.status) == [.ok, .error, .timeout])
        #expect(result.events[1] == WorkloadEvent(
            timestamp: Date(timeIntervalSince1970: 1_740_832_200), model: "gpt-4o-mini", provider: "openai", inputTokens: 7, outputTokens: 0,
            latencyMs: 1_000, status: .error, interactive: false))
        #expect(result.events[2].timestamp == Date(timeIntervalSince1970: 1_740_832_200.5))
    }

    @Test func csvRowErrorsNameTheProblem() {
        let body = [
            Self.csvHeader,
            "1,m,p,1,2,3,,1,,",
            "1,m,p,1,2",
            "1,m,p,1,2,3,,maybe,,",
            "1,m,p,-4,2,3,,,,",
            "1,m,p,1,\"2\"x,3,,,,",
            "1,,p,1,2,3,,,,",
            "1,m,p,1,2,3,,,,\"never closed",
        ].joined(separator: "\n")
        let result = Self.parse(body, .csv)
        #expect(result.eventIndices == [0])
        #expect(result.errors == [
            RowError(index: 1, reason: "row has 5 fields but the header has 10"),
            RowError(index: 2, reason: "interactive must be true, false, 1 or 0"),
            RowError(index: 3, reason: "input_tokens must be a non-negative integer"),
            RowError(index: 4, reason: "row has text after the closing quote in column output_tokens"),
            RowError(index: 5, reason: "missing required field model"),
            RowError(index: 6, reason: "row has a quoted field without its closing quote"),
        ])
    }

    @Test(arguments: [
        ("", "CSV body must start with a header row"),
        ("\n\n", "CSV body must start with a header row"),
        ("timestamp,model,provider,input_tokens,output_tokens\n1,m,p,1,2", "CSV header is missing required column latency_ms"),
        ("timestamp,model,provider,input_tokens,output_tokens,latency_ms,MODEL\n", "CSV header repeats column model"),
        ("\"timestamp,model\n", "CSV header row is malformed"),
    ])
    func csvHeaderProblemsRejectTheWholeBody(body: String, reason: String) {
        let result = Self.parse(body, .csv)
        #expect(result.errors == [RowError(index: RowError.bodyIndex, reason: reason)])
        #expect(result.events.isEmpty)
    }

    @Test func formatsComeFromTheContentTypeOrTheFirstByte() {
        #expect(WorkloadFormat(contentType: "application/json") == .json)
        #expect(WorkloadFormat(contentType: "Application/JSON; charset=utf-8") == .json)
        #expect(WorkloadFormat(contentType: "application/x-ndjson") == .ndjson)
        #expect(WorkloadFormat(contentType: "application/jsonl") == .ndjson)
        #expect(WorkloadFormat(contentType: "text/csv; header=present") == .csv)
        #expect(WorkloadFormat(contentType: "text/plain") == nil)
        #expect(WorkloadFormat.detect(Array(" \n [{}]".utf8)) == .json)
        #expect(WorkloadFormat.detect(Array("\u{FEFF}{\"a\":1}".utf8)) == .ndjson)
        #expect(WorkloadFormat.detect(Array("timestamp,model".utf8)) == .csv)
        #expect(Self.parse(" [\(Self.row())]").format == .json)
    }

    @Test func validateAppliesTheSameRulesToTypedEvents() {
        var event = Self.minimalEvent
        #expect(WorkloadParser.validate(event) == nil)
        event.cachedInputTokens = 101
        #expect(WorkloadParser.validate(event) == "cached_input_tokens must not exceed input_tokens")
        event = Self.minimalEvent
        event.latencyMs = .nan
        #expect(WorkloadParser.validate(event) == "latency_ms must be a number from 0 to 86400000")
        event = Self.minimalEvent
        event.timestamp = Date(timeIntervalSince1970: -1)
        #expect(WorkloadParser.validate(event) == "timestamp must be RFC 3339 or Unix seconds")
    }

    @Test func rowErrorsAndModesHaveStableWireForms() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let encoded = String(decoding: try encoder.encode(RowError(index: 3, reason: "missing required field model")), as: UTF8.self)
        #expect(encoded == #"{"index":3,"reason":"missing required field model"}"#)
        #expect(IngestMode(rawValue: "all_or_nothing") == .allOrNothing && IngestMode(rawValue: "skip_invalid") == .skipInvalid)
        #expect(IngestMode.default == .allOrNothing)
    }

    @Test func largeBodiesParseCompletely() {
        let rows = (0..<20_000).map { Self.row("input_tokens", String($0)) }
        let result = Self.parse("[" + rows.joined(separator: ",") + "]")
        #expect(result.errors.isEmpty && result.events.count == 20_000)
        #expect(result.events.last?.inputTokens == 19_999 && result.eventIndices.last == 19_999)
    }
}
