import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@Suite("Workload data, supply catalog and generation jobs")
struct WorkloadTests {
    /// 2025-03-01T00:00:00Z.
    static let day = Date(timeIntervalSince1970: 1_740_787_200)

    /// Three calls on catalog models, over two days; the second has a feature with a comma and quotes (quoted in CSV)
    /// and a fractional-second timestamp.
    static let sample: [WorkloadEvent] = [
        WorkloadEvent(
            timestamp: day.addingTimeInterval(10 * 3_600), model: "gpt-4o-mini", provider: "openai", inputTokens: 1_200,
            outputTokens: 180, latencyMs: 850, ttftMs: 240, feature: "summarize", user: "user-1", interactive: false),
        WorkloadEvent(
            timestamp: day.addingTimeInterval(11 * 3_600 + 0.25), model: "claude-3-5-haiku", provider: "anthropic", inputTokens: 640,
            outputTokens: 40, cachedInputTokens: 512, latencyMs: 410.5, feature: #"extract, "v2""#, user: "user-2", interactive: true),
        WorkloadEvent(
            timestamp: day.addingTimeInterval(32 * 3_600), model: "gpt-4o", provider: "openai", inputTokens: 2_000, outputTokens: 0,
            latencyMs: 30_000, status: .timeout, feature: "classify", user: "user-1", interactive: false),
    ]

    // MARK: Ingest

    @Test func everyFormatIsStoredAndSummarized() async throws {
        try await TestStack.run(workers: 0) { stack in
            for format in UploadFormat.allCases {
                let token = try await stack.tenantToken()
                let upload = try format.encode(Self.sample)
                let response = try await stack.ingest(upload.body, contentType: upload.contentType, token: token)
                #expect(response.status == .created, "\(format): \(String(buffer: response.body))")
                let result = try stack.json(response)
                #expect(result["accepted"]?.intValue == 3, "\(format)")
                #expect(result["rejected"]?.intValue == 0, "\(format)")
                #expect(result["errors"]?.arrayValue?.isEmpty == true, "\(format)")
                #expect(result["unpriced"]?.intValue == 0, "\(format)")
                #expect(result["mode"]?.stringValue == "all_or_nothing", "\(format)")

                let summary = try await stack.workloadSummary(token: token)
                #expect(summary["events"]?.intValue == 3, "\(format)")
                expectSameInstant(summary["first_event"]?.dateValue, Self.sample[0].timestamp, "\(format) first_event")
                expectSameInstant(summary["last_event"]?.dateValue, Self.sample[2].timestamp, "\(format) last_event")
                #expect(Set(summary["models"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o"])
                #expect(Set(summary["features"]?.arrayValue?.compactMap(\.stringValue) ?? []) == Set(Self.sample.compactMap(\.feature)))
                expectClose(summary["cost_usd"]?.doubleValue, try Self.listPrice(Self.sample), relative: 1e-9, "\(format) cost_usd")
            }
        }
    }

    @Test func invalidRowsRejectTheUploadOrAreSkippedOnRequest() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            var rows = Self.sample
            rows[1].inputTokens = -5
            let body = try JSONText.encode(rows)

            for mode in [nil, "all_or_nothing"] {
                let rejected = try await stack.ingest(body, contentType: "application/json", token: token, mode: mode)
                expectAPIError(rejected, .unprocessableContent, code: "invalid_rows")
                let listed = try stack.json(rejected)["error"]?["rows"]?.arrayValue ?? []
                #expect(listed.map { $0["index"]?.intValue } == [1], "\(String(buffer: rejected.body))")
                #expect(listed.first?["reason"]?.stringValue?.contains("input_tokens") == true)
            }
            #expect(try await stack.workloadSummary(token: token)["events"]?.intValue == 0, "nothing of a rejected upload is stored")

            let skipped = try await stack.ingest(body, contentType: "application/json", token: token, mode: "skip_invalid")
            #expect(skipped.status == .created, "\(String(buffer: skipped.body))")
            let result = try stack.json(skipped)
            #expect(result["accepted"]?.intValue == 2)
            #expect(result["rejected"]?.intValue == 1)
            #expect(result["mode"]?.stringValue == "skip_invalid")
            #expect(result["errors"]?.arrayValue?.map { $0["index"]?.intValue } == [1])
            #expect(result["errors"]?.arrayValue?.first?["reason"]?.stringValue?.contains("input_tokens") == true)
            let summary = try await stack.workloadSummary(token: token)
            #expect(summary["events"]?.intValue == 2)
            expectClose(summary["cost_usd"]?.doubleValue, try Self.listPrice([Self.sample[0], Self.sample[2]]), relative: 1e-9, "cost_usd")
        }
    }

    @Test func unreadableEmptyAndOversizedBodiesAreRefused() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            let truncated = #"[{"timestamp":"2025-03-01T10:00:00Z","model":"gpt-4o","#
            expectAPIError(try await stack.ingest(truncated, contentType: "application/json", token: token), .badRequest, code: "invalid_body")
            let headerless = "2025-03-01T10:00:00Z,gpt-4o,openai,100,10,250\n"
            expectAPIError(try await stack.ingest(headerless, contentType: "text/csv", token: token), .badRequest, code: "invalid_body")
            expectAPIError(try await stack.ingest("[]", contentType: "application/json", token: token), .unprocessableContent, code: "validation_failed")
            let oversized = "[" + String(repeating: " ", count: 32 << 20) + "]"
            expectAPIError(try await stack.ingest(oversized, contentType: "application/json", token: token), .contentTooLarge)
            #expect(try await stack.workloadSummary(token: token)["events"]?.intValue == 0)
        }
    }

    @Test func missingCostsArePricedFromTheCatalogAndUnknownModelsCounted() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            let stated = WorkloadEvent(
                timestamp: Self.day.addingTimeInterval(3_600), model: "gpt-4o", provider: "openai", inputTokens: 100, outputTokens: 10,
                latencyMs: 120, costUSD: 0.5)
            let unknown = WorkloadEvent(
                timestamp: Self.day.addingTimeInterval(7_200), model: "acme-7b", provider: "acme", inputTokens: 300, outputTokens: 30,
                latencyMs: 200)
            let response = try await stack.ingest(try JSONText.encode(Self.sample + [stated, unknown]), contentType: "application/json", token: token)
            #expect(response.status == .created, "\(String(buffer: response.body))")
            let result = try stack.json(response)
            #expect(result["accepted"]?.intValue == 5)
            #expect(result["unpriced"]?.intValue == 1)

            // The sample is priced at list prices, the stated cost is kept, the unknown model costs 0.
            let expected = try Self.listPrice(Self.sample) + 0.5
            expectClose(try await stack.workloadSummary(token: token)["cost_usd"]?.doubleValue, expected, relative: 1e-9, "cost_usd")
            #expect(try await stack.scalar(Double.self, "SELECT cost_usd FROM workload_events WHERE model = 'acme-7b'") == 0)
            #expect(try await stack.scalar(Double.self, "SELECT cost_usd FROM workload_events WHERE model = 'gpt-4o' AND input_tokens = 100") == 0.5)
        }
    }

    @Test func deletingClearsOnlyTheCallersTenant() async throws {
        try await TestStack.run(workers: 0) { stack in
            let (first, second) = try await (stack.tenantToken(), stack.tenantToken())
            let firstRows = Array(Self.sample.prefix(2)).map { event in
                var renamed = event
                renamed.model = "gpt-4o-mini"
                renamed.provider = "openai"
                return renamed
            }
            #expect(try await stack.ingest(try JSONText.encode(firstRows), contentType: "application/json", token: first).status == .created)
            let secondRows = Self.sample.map { event in
                var renamed = event
                renamed.model = "claude-3-5-haiku"
                renamed.provider = "anthropic"
                return renamed
            }
            #expect(try await stack.ingest(try JSONText.encode(secondRows), contentType: "application/json", token: second).status == .created)

            let before = try await stack.workloadSummary(token: second)
            #expect(before["events"]?.intValue == 3)
            #expect(before["models"]?.arrayValue?.compactMap(\.stringValue) == ["claude-3-5-haiku"], "another tenant's models leak into the summary")

            let deleted = try await stack.request(.delete, "/api/workloads", token: first)
            #expect(deleted.status == .ok, "\(String(buffer: deleted.body))")
            #expect(try stack.json(deleted)["deleted"]?.intValue == 2)
            let cleared = try await stack.workloadSummary(token: first)
            #expect(cleared["events"]?.intValue == 0)
            #expect(cleared["first_event"].isNullOrAbsent && cleared["last_event"].isNullOrAbsent)
            #expect(cleared["cost_usd"]?.doubleValue == 0)
            #expect(try stack.json(try await stack.request(.delete, "/api/workloads", token: first))["deleted"]?.intValue == 0)
            #expect(try await stack.workloadSummary(token: second) == before, "the other tenant's data is untouched")
        }
    }

    // MARK: Supply catalog

    @Test func catalogFiltersAndRejectsNonNumericBounds() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            let all = try stack.json(try await stack.request(.get, "/api/supply/catalog", token: token))
            #expect(all["count"]?.intValue == SupplyCatalog.shipped.models.count)
            #expect(all["models"]?.arrayValue?.count == SupplyCatalog.shipped.models.count)

            let response = try await stack.request(.get, "/api/supply/catalog?provider=openai&min_tier=3", token: token)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let filtered = try stack.json(response)
            let models = try #require(filtered["models"]?.arrayValue)
            let expected = SupplyCatalog.shipped.filtered(SupplyCatalog.Filter(provider: "openai", minTier: 3))
            #expect(!expected.isEmpty && expected.count < SupplyCatalog.shipped.models.count)
            #expect(filtered["count"]?.intValue == models.count)
            #expect(Set(models.compactMap { $0["model"]?.stringValue }) == Set(expected.map(\.model)))
            for model in models {
                #expect(model["provider"]?.stringValue == "openai", "\(model)")
                #expect((model["quality_tier"]?.intValue ?? 0) >= 3, "\(model)")
                #expect(model["input_per_mtok"]?.doubleValue != nil, "\(model)")
            }

            expectAPIError(try await stack.request(.get, "/api/supply/catalog?min_tier=abc", token: token), .unprocessableContent)
            expectAPIError(try await stack.request(.get, "/api/supply/catalog?max_input_per_mtok=cheap", token: token), .unprocessableContent)
        }
    }

    @Test func estimatesAreSortedAndBatchIsCheaperWhereDiscounted() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            let mix = #""input_tokens":2000000,"output_tokens":500000"#
            let plain = try await stack.estimates(#"{\#(mix)}"#, token: token)
            let costs = plain.compactMap { $0["cost_usd"]?.doubleValue }
            #expect(costs.count == SupplyCatalog.shipped.models.count)
            #expect(costs == costs.sorted(), "estimates are cheapest first")
            let local = SupplyCatalog.shipped.estimate(SupplyCatalog.TokenMix(inputTokens: 2_000_000, outputTokens: 500_000))
            expectClose(costs.first, local[0].costUSD, relative: 1e-9, "cheapest estimate")

            let batched = try await stack.estimates(#"{\#(mix),"batch":true}"#, token: token)
            let offer = try #require(SupplyCatalog.shipped.model("gpt-4o", provider: "openai"))
            let discount = try #require(offer.batchDiscount)
            let full = try #require(Self.cost(of: offer, in: plain)), discounted = try #require(Self.cost(of: offer, in: batched))
            #expect(discounted < full)
            expectClose(discounted, full * (1 - discount), relative: 1e-9, "gpt-4o batch cost")
            if let undiscounted = SupplyCatalog.shipped.models.first(where: { $0.batchDiscount == nil }) {
                #expect(Self.cost(of: undiscounted, in: batched) == Self.cost(of: undiscounted, in: plain), "\(undiscounted.model) has no batch API")
            }

            let topTier = try await stack.estimates(#"{"input_tokens":1000,"output_tokens":1000,"min_tier":4}"#, token: token)
            #expect(!topTier.isEmpty && topTier.allSatisfy { ($0["quality_tier"]?.intValue ?? 0) >= 4 })
            let negative = try await stack.request(.post, "/api/supply/estimate", token: token, json: #"{"input_tokens":-1,"output_tokens":10}"#)
            expectAPIError(negative, .unprocessableContent)
        }
    }

    // MARK: Generation jobs

    @Test func generationJobWritesTheSeededWorkloadWithProgress() async throws {
        try await TestStack.run { stack in
            let (owner, other) = try await (stack.tenantToken(), stack.tenantToken())
            for bad in [#"{"events":0}"#, #"{"events":2000001}"#, #"{"days":61}"#, #"{"profile":"nope"}"#] {
                expectAPIError(try await stack.request(.post, "/api/generation/start", token: owner, json: bad), .unprocessableContent)
            }
            let today = Self.utcDay(Date())
            let parameters = #"{"events":20000,"days":7,"seed":7}"#
            let job = try await stack.startGeneration(parameters, token: owner)
            expectAPIError(try await stack.request(.get, "/api/generation/status/\(job)", token: other), .notFound)
            expectAPIError(try await stack.request(.get, "/api/generation/status/\(UUID().uuidString.lowercased())", token: owner), .notFound)

            let status = try await stack.waitForJob(job, token: owner)
            #expect(status["job_id"]?.stringValue == job)
            #expect(status["status"]?.stringValue == "succeeded", "\(status)")
            #expect(status["progress"]?.intValue == 100)
            #expect(status["events_written"]?.intValue == 20_000)
            let summary = try await stack.workloadSummary(token: owner)
            #expect(summary["events"]?.intValue == 20_000)
            // Seven whole UTC days ending at the start of today (or of tomorrow, if the test ran over midnight).
            let first = try #require(summary["first_event"]?.dateValue), last = try #require(summary["last_event"]?.dateValue)
            #expect(first >= Date(timeIntervalSince1970: Double(today - 7) * 86_400), "\(first)")
            #expect(last < Date(timeIntervalSince1970: Double(Self.utcDay(Date())) * 86_400), "\(last)")

            let percents = try await stack.progressPercents(of: job, token: owner)
            #expect(!percents.isEmpty, "no progress events")
            #expect(percents == percents.sorted(), "progress went backwards: \(percents)")
            #expect(percents.allSatisfy { (0...100).contains($0) } && percents.last == 100, "\(percents)")

            try await Self.expectSameWorkload(stack, generatedFor: owner, regeneratedFor: other, parameters: parameters, ownerCost: summary["cost_usd"])
        }
    }

    /// The same job for another tenant that already has one event of its own: that event stays, and the generated rows
    /// equal the first tenant's exactly.
    private static func expectSameWorkload(
        _ stack: TestStack, generatedFor owner: String, regeneratedFor other: String, parameters: String, ownerCost: JSONValue?
    ) async throws {
        #expect(try await stack.ingest(try JSONText.encode([sample[0]]), contentType: "application/json", token: other).status == .created)
        let again = try await stack.startGeneration(parameters, token: other)
        #expect(try await stack.waitForJob(again, token: other)["status"]?.stringValue == "succeeded")
        let summary = try await stack.workloadSummary(token: other)
        #expect(summary["events"]?.intValue == 20_001, "generation replaced data it did not write")
        let ownCost = try #require(SupplyCatalog.shipped.cost(of: Self.sample[0]))
        expectClose(summary["cost_usd"]?.doubleValue, (ownerCost?.doubleValue ?? .nan) + ownCost, relative: 1e-9, "same seed, same cost")

        let (ownerID, otherID) = try await (stack.tenantID(token: owner), stack.tenantID(token: other))
        let columns = """
            ts, model, provider, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, latency_ms, ttft_ms, status,
            prompt_hash, prefix_hash, prefix_tokens, max_tokens, feature, user_id, interactive, cost_usd
            """
        let onlyOwner = try await stack.scalar(
            Int.self,
            """
            SELECT count(*) FROM (SELECT \(unescaped: columns) FROM workload_events WHERE tenant_id = \(ownerID)
                EXCEPT ALL SELECT \(unescaped: columns) FROM workload_events WHERE tenant_id = \(otherID)) AS missing
            """)
        #expect(onlyOwner == 0, "the same seed wrote different events")
    }

    // MARK: Helpers

    /// What the events cost at the shipped catalog's list prices (every model must be in it).
    static func listPrice(_ events: [WorkloadEvent]) throws -> Double {
        var total = 0.0
        for event in events { total += try #require(SupplyCatalog.shipped.cost(of: event), "\(event.model) is in the catalog") }
        return total
    }

    /// The `cost_usd` of an offer in a list of estimates.
    static func cost(of offer: SupplyModel, in estimates: [JSONValue]) -> Double? {
        estimates.first { $0["model"]?.stringValue == offer.model && $0["provider"]?.stringValue == offer.provider }?["cost_usd"]?.doubleValue
    }

    /// Days since 1970 (UTC) of the day holding `date`.
    static func utcDay(_ date: Date) -> Int { Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }
}

/// The body encodings of an upload; `detected` is NDJSON sent without a Content-Type.
enum UploadFormat: String, CaseIterable, CustomStringConvertible {
    case json, ndjson, csv, detected

    var description: String { rawValue }

    /// The upload body and its Content-Type (`nil`: none sent).
    func encode(_ events: [WorkloadEvent]) throws -> (body: String, contentType: String?) {
        let lines = try events.map { try JSONText.encode($0) }
        switch self {
        case .json: return try (JSONText.encode(events), "application/json")
        case .ndjson: return (lines.joined(separator: "\n") + "\n", "application/x-ndjson")
        case .detected: return (lines.joined(separator: "\n"), nil)
        case .csv: return (Self.csv(events), "text/csv")
        }
    }

    /// RFC 4180: a header row, CRLF line ends, fields with a comma or quote quoted and their quotes doubled.
    static func csv(_ events: [WorkloadEvent]) -> String {
        let header = "timestamp,model,provider,input_tokens,output_tokens,cached_input_tokens,latency_ms,ttft_ms,status,feature,user,interactive"
        let rows = events.map { event -> String in
            let cached: String = event.cachedInputTokens.map { String($0) } ?? ""
            let ttft: String = event.ttftMs.map { String($0) } ?? ""
            let interactive: String = event.interactive.map { $0 ? "true" : "false" } ?? ""
            let cells: [String] = [
                JSONText.timestamp(event.timestamp), event.model, event.provider, String(event.inputTokens), String(event.outputTokens),
                cached, String(event.latencyMs), ttft, event.status.rawValue, event.feature ?? "", event.user ?? "", interactive,
            ]
            return cells.map(cell).joined(separator: ",")
        }
        return ([header] + rows).joined(separator: "\r\n") + "\r\n"
    }

    private static func cell(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

// MARK: - Shared with OptimizeScenarioTests

extension TestStack {
    /// Posts a workload upload as it is, with `contentType` (none: the server detects the format).
    func ingest(_ body: String, contentType: String?, token: String, mode: String? = nil) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        if let contentType { headers[.contentType] = contentType }
        let query = mode.map { "?mode=\($0)" } ?? ""
        return try await client.execute(uri: "/api/workloads/events\(query)", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// `GET /api/workloads/summary`.
    func workloadSummary(token: String) async throws -> JSONValue {
        let response = try await request(.get, "/api/workloads/summary", token: token)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try json(response)
    }

    /// `POST /api/supply/estimate`, expecting a 200; returns the estimates.
    func estimates(_ body: String, token: String) async throws -> [JSONValue] {
        let response = try await request(.post, "/api/supply/estimate", token: token, json: body)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try #require(try json(response)["estimates"]?.arrayValue)
    }

    /// Starts a generation job (expecting 202 and `queued`) and returns its id.
    func startGeneration(_ body: String, token: String) async throws -> String {
        let response = try await request(.post, "/api/generation/start", token: token, json: body)
        #expect(response.status == .accepted, "\(String(buffer: response.body))")
        let started = try json(response)
        #expect(started["status"]?.stringValue == "queued")
        return try #require(started["job_id"]?.stringValue)
    }

    /// Waits until the job reaches a final status and returns its status body.
    func waitForJob(_ job: String, token: String, timeout: Duration = .seconds(60)) async throws -> JSONValue {
        try await waitUntil("generation job \(job) to finish", timeout: timeout) {
            let status = try self.json(try await self.request(.get, "/api/generation/status/\(job)", token: token))["status"]?.stringValue
            return status.flatMap(RunStatus.init(rawValue:))?.isFinal == true
        }
        return try json(try await request(.get, "/api/generation/status/\(job)", token: token))
    }

    /// The run's durable event log (`GET /api/agent/runs/{id}/events`); a generation job's id is its run's id.
    func runEvents(_ run: String, token: String) async throws -> [JSONValue] {
        let response = try await request(.get, "/api/agent/runs/\(run)/events?after=0", token: token)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try #require(try json(response)["events"]?.arrayValue)
    }

    /// The `percent` of each progress update of a generation job, in order.
    func progressPercents(of job: String, token: String) async throws -> [Double] {
        try await runEvents(job, token: token)
            .filter { $0["type"]?.stringValue == "sub_agent_update" && $0["data"]?["status"]?.stringValue == "progress" }
            .map { try #require($0["data"]?["percent"]?.doubleValue, "progress without a percent: \($0)") }
    }

    /// The tenant of a token, from `/api/auth/me`.
    func tenantID(token: String) async throws -> UUID {
        let me = try json(try await request(.get, "/api/auth/me", token: token))
        return try #require(me["tenant_id"]?.stringValue.flatMap(UUID.init(uuidString:)))
    }
}

extension JSONValue {
    /// The number, when this is one.
    var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// An RFC 3339 timestamp, with or without fractional seconds.
    var dateValue: Date? {
        guard let text = stringValue else { return nil }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

extension Optional<JSONValue> {
    /// A member that is `null` or left out.
    var isNullOrAbsent: Bool {
        switch self {
        case .none, .some(.null): true
        default: false
        }
    }
}

/// Expects `actual` within `relative` of `expected` (relative to `expected`).
func expectClose(_ actual: Double?, _ expected: Double, relative: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let actual else {
        Issue.record("\(what): missing (expected \(expected))", sourceLocation: sourceLocation)
        return
    }
    #expect(abs(actual - expected) <= relative * abs(expected), "\(what): \(actual), expected \(expected)", sourceLocation: sourceLocation)
}

/// Expects two instants to agree to the millisecond.
func expectSameInstant(_ actual: Date?, _ expected: Date, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let gap = actual.map { abs($0.timeIntervalSince(expected)) }
    #expect(gap.map { $0 < 0.001 } == true, "\(what): \(String(describing: actual)), expected \(expected)", sourceLocation: sourceLocation)
}

/// Expects an error status and the `{"error": {"code", "message"}}` envelope.
func expectAPIError(_ response: TestResponse, _ status: HTTPResponse.Status, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
    let body = JSONValue(text: String(buffer: response.body))
    #expect(body?["error"]?["message"]?.stringValue != nil, "no error message in \(String(buffer: response.body))", sourceLocation: sourceLocation)
    if let code { #expect(body?["error"]?["code"]?.stringValue == code, "\(String(buffer: response.body))", sourceLocation: sourceLocation) }
}
