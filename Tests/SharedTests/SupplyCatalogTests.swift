import Foundation
import Shared
import Testing

@Suite("The shipped supply catalog")
struct ShippedSupplyCatalogTests {
    /// `Sources/Shared/Supply/catalog.json`, read from the source tree rather than from the embedded resource.
    static let fileURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Shared/Supply/catalog.json")

    @Test func fileAndEmbeddedResourceLoadTheSameCatalog() throws {
        let fromFile = try SupplyCatalog(json: Data(contentsOf: Self.fileURL))
        #expect(fromFile.models == SupplyCatalog.shipped.models)
        #expect(fromFile.models.count >= 30)
        #expect(Set(fromFile.models.map(\.provider)).count >= 6)
    }

    @Test func everyEntryIsLowercaseWithASourceAndAPastDate() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.isLenient = false
        for entry in SupplyCatalog.shipped.models {
            let name = "\(entry.model) from \(entry.provider)"
            #expect(entry.source.hasPrefix("https://"), "\(name)")
            let day = formatter.date(from: entry.priceDate)
            #expect(day.map(formatter.string(from:)) == entry.priceDate, "\(name): \(entry.priceDate)")
            #expect(day.map { $0 <= Date() } == true, "\(name): price date in the future")
            #expect(entry.model == entry.model.lowercased() && entry.provider == entry.provider.lowercased(), "\(name)")
        }
    }

    @Test(arguments: [
        ("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("gpt-4.1", "openai"), ("gpt-4.1-mini", "openai"),
        ("gpt-4.1-nano", "openai"), ("claude-sonnet-4", "anthropic"), ("claude-3-5-haiku", "anthropic"),
        ("gemini-2.0-flash", "google"), ("gemini-2.5-pro", "google"), ("mistral-small", "mistral"), ("deepseek-chat", "deepseek"),
    ])
    func modelsTheWorkloadGeneratorNamesArePresent(model: String, provider: String) {
        #expect(SupplyCatalog.shipped.model(model, provider: provider) != nil)
        #expect(SupplyCatalog.shipped.model(model, provider: nil)?.provider == provider)
    }

    @Test(arguments: ["llama-3.1-70b-instruct", "llama-3.1-8b-instruct"])
    func openWeightModelsHaveSeveralProvidersAtDifferentPrices(model: String) {
        let offers = SupplyCatalog.shipped.offers(of: model)
        let resellers: Set = ["together", "fireworks", "groq", "deepinfra"]
        #expect(Set(offers.map(\.provider)).intersection(resellers).count >= 3)
        #expect(Set(offers.map(\.inputPerMTok)).count >= 3)
        #expect(offers.contains { $0.provider == "groq" && $0.outputTokensPerSecond != nil })
    }
}

@Suite("Supply catalog arithmetic and lookups")
struct SupplyCatalogTests {
    /// frontier/acme 2.50 in, 1.25 cached, 10.00 out, batch 50%, tier 4; frontier/resale 2.00 in, 8.00 out, no cache,
    /// no batch, tier 4; tiny/acme 0.10 in, 0.05 cached, 0.40 out, batch 50%, tier 1; mid/other 1.00 in, 2.00 out, tier 2.
    static let fixture = catalogJSON(
        offer("frontier", "acme", input: 2.5, cached: 1.25, output: 10, tier: 4, batch: 0.5, context: 200_000),
        offer("frontier", "resale", input: 2, output: 8, tier: 4),
        offer("tiny", "acme", input: 0.1, cached: 0.05, output: 0.4, tier: 1, batch: 0.5),
        offer("mid", "other", input: 1, output: 2, tier: 2, context: 32_000)
    )

    let catalog: SupplyCatalog

    init() throws { catalog = try SupplyCatalog(json: Data(Self.fixture.utf8)) }

    @Test func costBillsCachedInputAtTheCachedPrice() throws {
        // 600 × 2.5e-6 + 400 × 1.25e-6 + 200 × 10e-6 = 0.0015 + 0.0005 + 0.002 = 0.004
        let cost = try #require(catalog.cost(of: call("frontier", "acme", input: 1_000, cached: 400, output: 200)))
        #expect(isClose(cost, 0.004))
        // Names match in any case.
        #expect(catalog.cost(of: call("FRONTIER", "Acme", input: 1_000, cached: 400, output: 200)) == cost)
    }

    @Test func costBillsReasoningAsOutputAndCachedInputAtTheInputPriceWithoutCaching() throws {
        // 1,000 × 2e-6 + (100 + 300) × 8e-6 = 0.002 + 0.0032 = 0.0052
        let reasoning = try #require(catalog.cost(of: call("frontier", "resale", input: 1_000, output: 100, reasoning: 300)))
        #expect(isClose(reasoning, 0.0052))
        // No cached price: 1,000 × 1e-6 + 100 × 2e-6 = 0.001 + 0.0002 = 0.0012, with or without 500 cached.
        let uncachedPrice = try #require(catalog.cost(of: call("mid", "other", input: 1_000, cached: 500, output: 100)))
        #expect(isClose(uncachedPrice, 0.0012))
    }

    @Test func costIsNilForAnUnknownModelOrProvider() {
        #expect(catalog.cost(of: call("frontier", "nobody", input: 10, output: 10)) == nil)
        #expect(catalog.cost(of: call("unknown", "acme", input: 10, output: 10)) == nil)
    }

    @Test func lookupsIgnoreCaseAndDefaultToTheFirstListedProvider() {
        #expect(catalog.offers(of: "Frontier").map(\.provider) == ["acme", "resale"])
        #expect(catalog.model("frontier", provider: nil)?.provider == "acme")
        #expect(catalog.model("FRONTIER", provider: "RESALE")?.inputPerMTok == 2)
        #expect(catalog.model("frontier", provider: "other") == nil)
        #expect(catalog.offers(of: "missing").isEmpty)
    }

    @Test func filterAppliesEveryConditionItSets() {
        func names(_ filter: SupplyCatalog.Filter) -> [String] { catalog.filtered(filter).map { "\($0.model)/\($0.provider)" } }
        #expect(names(.init()).count == 4)
        #expect(names(.init(provider: "ACME")) == ["frontier/acme", "tiny/acme"])
        #expect(names(.init(minTier: 2, maxTier: 3)) == ["mid/other"])
        #expect(names(.init(maxInputPerMTok: 2)) == ["frontier/resale", "tiny/acme", "mid/other"])
        #expect(names(.init(minContextWindow: 128_000)) == ["frontier/acme", "frontier/resale", "tiny/acme"])
        #expect(names(.init(minTier: 4, model: "TIER")) == ["frontier/acme", "frontier/resale"])
    }

    @Test func filterDecodesFromSnakeCaseKeys() throws {
        let json = #"{"provider":"acme","min_tier":2,"max_input_per_mtok":3,"min_context_window":1000,"model":"fro"}"#
        let filter = try JSONDecoder().decode(SupplyCatalog.Filter.self, from: Data(json.utf8))
        #expect(filter == .init(provider: "acme", minTier: 2, maxInputPerMTok: 3, minContextWindow: 1_000, model: "fro"))
    }

    @Test func estimateSortsCheapestFirst() throws {
        // 1,000,000 input of which 200,000 cached, 100,000 output:
        // tiny/acme       800k × 0.10e-6 + 200k × 0.05e-6 + 100k × 0.40e-6 = 0.08 + 0.01 + 0.04 = 0.13
        // mid/other       1M × 1e-6 + 100k × 2e-6                          = 1.00 + 0.20        = 1.20
        // frontier/resale 1M × 2e-6 + 100k × 8e-6                          = 2.00 + 0.80        = 2.80
        // frontier/acme   800k × 2.5e-6 + 200k × 1.25e-6 + 100k × 10e-6     = 2.00 + 0.25 + 1.00 = 3.25
        let body = #"{"input_tokens": 1000000, "output_tokens": 100000, "cached_input_tokens": 200000, "calls": 1000}"#
        let mix = try JSONDecoder().decode(SupplyCatalog.TokenMix.self, from: Data(body.utf8))
        let estimates = catalog.estimate(mix)
        #expect(estimates.map { "\($0.model)/\($0.provider)" } == ["tiny/acme", "mid/other", "frontier/resale", "frontier/acme"])
        #expect(zip(estimates.map(\.costUSD), [0.13, 1.2, 2.8, 3.25]).allSatisfy(isClose))
        #expect(isClose(try #require(estimates.first?.costPerCallUSD), 0.00013))   // 0.13 / 1,000 calls
        #expect(estimates.allSatisfy { !$0.batchApplied })
        #expect(estimates.last?.cachedInputPerMTok == 1.25 && estimates[2].cachedInputPerMTok == 2)   // resale: no cache price
    }

    @Test func estimateAppliesBatchDiscountsWhereOffered() throws {
        // frontier/acme halves to 3.25 / 2 = 1.625, now below frontier/resale (2.80, no batch API); tiny/acme 0.065.
        let estimates = catalog.estimate(.init(inputTokens: 1_000_000, outputTokens: 100_000, cachedInputTokens: 200_000, batch: true))
        #expect(estimates.map { "\($0.model)/\($0.provider)" } == ["tiny/acme", "mid/other", "frontier/acme", "frontier/resale"])
        #expect(zip(estimates.map(\.costUSD), [0.065, 1.2, 1.625, 2.8]).allSatisfy(isClose))
        #expect(estimates.map(\.batchApplied) == [true, false, true, false])
        let acme = try #require(estimates.first { $0.provider == "acme" && $0.model == "frontier" })
        #expect(acme.inputPerMTok == 1.25 && acme.cachedInputPerMTok == 0.625 && acme.outputPerMTok == 5)
        #expect(acme.costPerCallUSD == nil)
    }

    @Test func estimateLeavesOutModelsBelowTheMinimumTier() {
        let estimates = catalog.estimate(.init(inputTokens: 1_000_000, outputTokens: 100_000, cachedInputTokens: 200_000, minTier: 3))
        #expect(estimates.map { "\($0.model)/\($0.provider)" } == ["frontier/resale", "frontier/acme"])
        #expect(estimates.allSatisfy { $0.qualityTier >= 3 })
    }

    @Test func estimateEncodesSnakeCase() throws {
        let estimate = try #require(catalog.estimate(.init(inputTokens: 1, outputTokens: 1)).first)
        let object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(estimate)) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["model", "provider", "quality_tier", "cost_usd", "input_per_mtok", "output_per_mtok"]))
    }

    @Test(arguments: [
        (catalogJSON(offer("a", "p", input: 1, output: 1, tier: 5)), SupplyCatalogError.Code.tierOutOfRange),
        (catalogJSON(offer("a", "p", input: 1, output: 1, tier: 0)), .tierOutOfRange),
        (catalogJSON(offer("a", "p", input: -1, output: 1, tier: 2)), .negativePrice),
        (catalogJSON(offer("a", "p", input: 1, cached: -0.5, output: 1, tier: 2)), .negativePrice),
        (catalogJSON(offer("a", "p", input: 1, output: 1, tier: 2), offer("A", "P", input: 2, output: 2, tier: 2)), .duplicateOffer),
        (catalogJSON(offer("a", "p", input: 1, output: 1, tier: 2, date: "2025-02-29")), .invalidField),
        (catalogJSON(offer("a", "p", input: 1, output: 1, tier: 2, batch: 1.5)), .invalidField),
        (catalogJSON(offer("a", "p", input: 1, output: 1, tier: 2, context: 0)), .invalidField),
        (#"{"version": 2, "currency": "USD", "models": []}"#, .unsupportedVersion),
        (#"{"version": 1, "currency": "USD", "models": [{"model": "a", "provider": "p"}]}"#, .malformed),
        (#"{"version": 1, "currency": "USD", "models": "#, .malformed),
    ])
    func malformedCatalogsAreRejected(json: String, code: SupplyCatalogError.Code) {
        let error = #expect(throws: SupplyCatalogError.self) { try SupplyCatalog(json: Data(json.utf8)) }
        #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")")
    }
}

/// One catalog entry as JSON; optional fields are left out when `nil`.
private func offer(
    _ model: String, _ provider: String, input: Double, cached: Double? = nil, output: Double, tier: Int, batch: Double? = nil,
    context: Int = 128_000, date: String = "2025-06-01"
) -> String {
    var fields = [
        #""model": "\#(model)""#, #""provider": "\#(provider)""#, #""input_per_mtok": \#(input)"#, #""output_per_mtok": \#(output)"#,
        #""context_window": \#(context)"#, #""quality_tier": \#(tier)"#, #""price_date": "\#(date)""#,
        #""source": "https://example.com/pricing""#,
    ]
    if let cached { fields.append(#""cached_input_per_mtok": \#(cached)"#) }
    if let batch { fields.append(#""batch_discount": \#(batch)"#) }
    return "{" + fields.joined(separator: ", ") + "}"
}

private func catalogJSON(_ offers: String...) -> String {
    #"{"version": 1, "currency": "USD", "unit": "per million tokens", "models": ["# + offers.joined(separator: ", ") + "]}"
}

private func call(
    _ model: String, _ provider: String, input: Int, cached: Int? = nil, output: Int, reasoning: Int? = nil
) -> WorkloadEvent {
    WorkloadEvent(
        timestamp: Date(timeIntervalSince1970: 1_750_000_000), model: model, provider: provider, inputTokens: input, outputTokens: output,
        cachedInputTokens: cached, reasoningTokens: reasoning, latencyMs: 100
    )
}

private func isClose(_ value: Double, _ expected: Double) -> Bool {
    abs(value - expected) <= 1e-12 * max(1, abs(expected))
}
