import Foundation
import Shared
import Testing

@Suite("The optimize agents find planted opportunities")
struct OptimizeScenarioTests {
    /// The generated workload. The `batch` mix puts about half the calls on `classify` and `summarize`, so that each
    /// planted opportunity is worth a few dollars a month (the tools report from $1) with few events.
    static let events = 60_000
    static let days = 14
    static let seed: UInt64 = 20_250_601
    static let profile = WorkloadGenerator.Profile.batch

    static let costMessage = "Optimize my AI workload costs"
    static let latencyMessage = "why is my p99 latency so high?"
    static let budgetMessage = "will we stay under a $5,000 budget this month?"

    @Test func costReportMatchesSavingsRecomputedFromTheEventsAndOtherQuestionsUseOtherTools() async throws {
        try await TestStack.run { stack in
            let token = try await stack.tenantToken()
            let dayBefore = WorkloadTests.utcDay(Date())
            let job = try await stack.startGeneration(
                #"{"events":\#(Self.events),"days":\#(Self.days),"seed":\#(Self.seed),"profile":"\#(Self.profile.rawValue)"}"#, token: token)
            #expect(try await stack.waitForJob(job, token: token)["status"]?.stringValue == "succeeded")

            var runs: [String] = []
            for message in [Self.costMessage, Self.latencyMessage, Self.budgetMessage] {
                runs.append(try await stack.submit(#"{"message":"\#(message)"}"#, token: token))
            }

            // While the runs work: the same events, regenerated here, must be what the job wrote.
            let summary = try await stack.workloadSummary(token: token)
            let last = try #require(summary["last_event"]?.dateValue)
            let endDay = WorkloadTests.utcDay(last) + 1
            #expect([dayBefore, WorkloadTests.utcDay(Date())].contains(endDay), "the data ends at the start of today (UTC)")
            let generator = WorkloadGenerator(
                events: Self.events, days: Self.days, seed: Self.seed, profile: Self.profile,
                end: Date(timeIntervalSince1970: Double(endDay) * 86_400))
            let expected = PlantedSavings(Array(generator))
            #expect(summary["events"]?.intValue == expected.events.count)
            expectSameInstant(summary["first_event"]?.dateValue, try #require(expected.events.first).timestamp, "first_event")
            expectClose(summary["cost_usd"]?.doubleValue, expected.totalCost, relative: 1e-6, "cost of the generated events")

            var reports: [String] = []
            var logs: [ToolLog] = []
            for run in runs {
                let status = try await stack.waitForFinalStatus(run, token: token, timeout: .seconds(60))
                #expect(status["status"]?.stringValue == "succeeded", "\(status)")
                #expect(status["result"]?["report"]?.objectValue != nil, "the result carries the JSON report")
                reports.append(try #require(status["result"]?["markdown"]?.stringValue, "no markdown in \(status)"))
                logs.append(try await ToolLog(run: run, stack: stack, token: token))
            }
            try Self.expectPlantedOpportunities(in: logs[0], markdown: reports[0], expected: expected, plan: generator.plan)
            try Self.expectToolsFollowTheQuestion(logs: logs, reports: reports)
        }
    }

    /// The cost run reports the planted duplicates, batch traffic and oversized model with the savings recomputed here,
    /// within 1%.
    static func expectPlantedOpportunities(in log: ToolLog, markdown: String, expected: PlantedSavings, plan: WorkloadGenerator.Plan) throws {
        let duplicated = try slice(of: plan.duplicateFeature, in: plan)
        let duplicateSavings = expected.duplicateCacheSavings(duplicated)
        #expect(duplicateSavings >= 1, "the planted duplicates are worth reporting: \(duplicateSavings)")
        let duplicates = try #require(log.opportunity(.duplicateCache, .exactDuplicates, in: duplicated), "\(log.summaries)")
        expectClose(duplicates.standaloneSavings, duplicateSavings, relative: 0.01, "duplicate_cache savings of \(duplicated)")

        for feature in [plan.nightlyFeature, plan.rightSizingFeature] {
            let batchable = try slice(of: feature, in: plan)
            let batch = try #require(log.opportunity(.batchEligibility, .batchAPI, in: batchable), "\(log.summaries)")
            expectClose(batch.standaloneSavings, try expected.batchSavings(batchable), relative: 0.01, "batch_eligibility savings of \(batchable)")
        }

        let oversized = try slice(of: plan.rightSizingFeature, in: plan)
        let rightSizing = try #require(log.opportunity(.modelRightSizing, .cheaperModel, in: oversized), "\(log.summaries)")
        let candidateModel = try #require(rightSizing.evidence["candidate_model"]?.text, "\(rightSizing.evidence)")
        let candidateProvider = try #require(rightSizing.evidence["candidate_provider"]?.text, "\(rightSizing.evidence)")
        let candidate = try #require(SupplyCatalog.shipped.model(candidateModel, provider: candidateProvider), "\(candidateModel) is in the catalog")
        expectClose(rightSizing.standaloneSavings, try expected.switchSavings(oversized, to: candidate), relative: 0.01, "right-sizing savings")
        // `classify` needs only tier 1 (its name says so); no adequate offer is cheaper than the one recommended.
        let cheapest = try #require(expected.cheapestAlternative(oversized, minimumTier: 1))
        expectClose(expected.cost(of: oversized, on: candidate), cheapest.cost, relative: 1e-9, "\(candidate.model) against \(cheapest.offer.model)")

        for name in [plan.duplicateFeature, plan.rightSizingFeature, candidate.model] {
            #expect(markdown.contains(name), "the report does not mention \(name)")
        }
    }

    /// Latency and budget questions lead triage to other tools than the cost request, and to other reports.
    static func expectToolsFollowTheQuestion(logs: [ToolLog], reports: [String]) throws {
        let (cost, latency, budget) = (Set(logs[0].calls), Set(logs[1].calls), Set(logs[2].calls))
        #expect(["duplicate_cache", "batch_eligibility", "model_right_sizing"].allSatisfy { cost.contains($0) }, "\(cost)")
        #expect(latency.contains("latency_profile") && !latency.contains("batch_eligibility"), "\(latency)")
        #expect(budget.contains("spend_trend"), "\(budget)")
        #expect(cost != latency && latency != budget && cost != budget)
        for log in logs {
            #expect(log.calls == log.results.map(\.tool), "each tool_call is followed by its tool_result")
        }
        let trend = try #require(logs[2].results.first { $0.tool == "spend_trend" })
        #expect(trend.figures["budget_usd"]?.doubleValue == 5_000, "the budget in the question reaches the spend trend")
        #expect(Set(reports).count == 3, "the three questions got the same report")
    }

    /// The `(feature, model, provider)` slice the generator runs `feature` on.
    static func slice(of feature: String, in plan: WorkloadGenerator.Plan) throws -> Opportunity.Scope {
        let spec = try #require(plan.feature(feature))
        return Opportunity.Scope(feature: spec.name, model: spec.model, provider: spec.provider)
    }
}

/// One run's analysis-tool events: the `tool_call` and `tool_result` events of its `optimizations` stage (other stages,
/// such as `data` loading the aggregates, emit tool events of their own, which are left out).
struct ToolLog {
    /// The data of a `tool_result` event.
    struct ResultData: Decodable {
        var tool: String
        var summary: String
        var opportunities: [Opportunity]
        var figures: JSONValue
    }

    /// The tools called, in order.
    var calls: [String] = []
    var results: [ResultData] = []

    init(run: String, stack: TestStack, token: String) async throws {
        for event in try await stack.runEvents(run, token: token) where event["metadata"]?["agent_name"]?.stringValue == "optimizations" {
            let data = try #require(event["data"])
            switch event["type"]?.stringValue {
            case "tool_call": calls.append(try #require(data["tool"]?.stringValue, "tool_call without a tool: \(event)"))
            case "tool_result": results.append(try JSONDecoder().decode(ResultData.self, from: JSONEncoder().encode(data)))
            default: continue
            }
        }
    }

    /// The opportunity of `kind` that `tool` reported for exactly `scope`.
    func opportunity(_ tool: AnalysisTool, _ kind: Opportunity.Kind, in scope: Opportunity.Scope) -> Opportunity? {
        results.filter { $0.tool == tool.rawValue }.flatMap(\.opportunities).first { $0.kind == kind && $0.scope == scope }
    }

    /// Every tool's one-line summary, for failure messages.
    var summaries: [String] { results.map { "\($0.tool): \($0.summary)" } }
}

/// The planted opportunities recomputed from the events by the tools' own definitions (their SQL and formulas), with
/// each event priced as generation prices it (`SupplyCatalog.shipped.cost(of:)`).
struct PlantedSavings {
    /// In time order.
    let events: [WorkloadEvent]
    let costs: [Double]
    /// 30 / observed days, where observed days = max(1, (last − first event) / 86,400 s) (`ObservedSpan`).
    let monthlyFactor: Double

    init(_ generated: [WorkloadEvent]) {
        let sorted = generated.sorted { $0.timestamp < $1.timestamp }
        events = sorted
        costs = sorted.map { SupplyCatalog.shipped.cost(of: $0) ?? 0 }
        let span = (sorted.last?.timestamp ?? Date()).timeIntervalSince(sorted.first?.timestamp ?? Date())
        monthlyFactor = 30 / max(1, span / 86_400)
    }

    var totalCost: Double { costs.reduce(0, +) }

    /// `duplicate_cache`: successful calls whose `prompt_hash` was sent to the same model by a successful call at most
    /// 24 h before (`DuplicateGroup.sql`: LAG over `(model, prompt_hash)` among `status = 'ok'`), their cost per month.
    func duplicateCacheSavings(_ slice: Opportunity.Scope) -> Double {
        var lastSeen: [String: Int64] = [:]
        var avoidable = 0.0
        for (index, event) in events.enumerated() where event.status == .ok {
            guard let hash = event.promptHash else { continue }
            let key = event.model + "\u{1F}" + hash
            let time = Int64((event.timestamp.timeIntervalSince1970 * 1_000).rounded())
            if let previous = lastSeen[key], time - previous <= 86_400_000, event.belongs(to: slice) { avoidable += costs[index] }
            lastSeen[key] = time
        }
        return avoidable * monthlyFactor
    }

    /// `batch_eligibility`: the slice's `interactive = false` spend × its offer's batch discount, per month.
    func batchSavings(_ slice: Opportunity.Scope) throws -> Double {
        let offer = try Self.offer(of: slice)
        let discount = try #require(offer.batchDiscount, "\(offer.model) has a batch API")
        let spend = zip(events, costs).reduce(0.0) { sum, pair in
            pair.0.belongs(to: slice) && pair.0.interactive == false ? sum + pair.1 : sum
        }
        return spend * discount * monthlyFactor
    }

    /// `model_right_sizing`: the slice's tokens priced on its current offer minus on `candidate`, per month.
    func switchSavings(_ slice: Opportunity.Scope, to candidate: SupplyModel) throws -> Double {
        let current = try Self.offer(of: slice)
        let tokens = BilledTokens(events.filter { $0.belongs(to: slice) })
        return (tokens.dollars(on: current) - tokens.dollars(on: candidate)) * monthlyFactor
    }

    /// What the slice's tokens cost on `offer`, over the window.
    func cost(of slice: Opportunity.Scope, on offer: SupplyModel) -> Double {
        BilledTokens(events.filter { $0.belongs(to: slice) }).dollars(on: offer)
    }

    /// The cheapest offer right-sizing may pick for the slice: another model name, at least `minimumTier`, a context
    /// window that holds the feature's largest input.
    func cheapestAlternative(_ slice: Opportunity.Scope, minimumTier: Int) -> (offer: SupplyModel, cost: Double)? {
        let largestInput = events.filter { $0.feature == slice.feature }.map(\.inputTokens).max() ?? 0
        let tokens = BilledTokens(events.filter { $0.belongs(to: slice) })
        return SupplyCatalog.shipped.models
            .filter { $0.model.lowercased() != slice.model?.lowercased() && $0.qualityTier >= minimumTier && $0.contextWindow >= largestInput }
            .map { (offer: $0, cost: tokens.dollars(on: $0)) }
            .min { $0.cost < $1.cost }
    }

    /// The catalog offer the slice runs on.
    static func offer(of slice: Opportunity.Scope) throws -> SupplyModel {
        let model = try #require(slice.model)
        return try #require(SupplyCatalog.shipped.model(model, provider: slice.provider), "\(slice) is in the catalog")
    }
}

/// The tokens some calls were billed for, as `SliceTokens` counts them: uncached input, cached input (capped at the
/// input) and output plus reasoning.
struct BilledTokens {
    var uncachedInput = 0.0
    var cachedInput = 0.0
    var output = 0.0

    init(_ events: [WorkloadEvent]) {
        for event in events {
            let cached = min(event.cachedInputTokens ?? 0, event.inputTokens)
            uncachedInput += Double(event.inputTokens - cached)
            cachedInput += Double(cached)
            output += Double(event.outputTokens + (event.reasoningTokens ?? 0))
        }
    }

    /// The tokens at an offer's list prices (cached input at the input price when the offer has no cached price).
    func dollars(on offer: SupplyModel) -> Double {
        (uncachedInput * offer.inputPerMTok + cachedInput * (offer.cachedInputPerMTok ?? offer.inputPerMTok) + output * offer.outputPerMTok)
            / 1_000_000
    }
}

extension WorkloadEvent {
    /// Whether the call is in the `(feature, model, provider)` slice.
    fileprivate func belongs(to slice: Opportunity.Scope) -> Bool {
        feature == slice.feature && model == slice.model && provider == slice.provider
    }
}

extension Opportunity {
    /// The savings before the ranking scaled them for overlaps.
    fileprivate var standaloneSavings: Double { evidence["standalone_monthly_savings_usd"]?.number ?? monthlySavingsUSD }
}

extension EvidenceValue {
    /// The text, when this is a string.
    fileprivate var text: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

extension JSONValue {
    /// The members, when this is an object.
    fileprivate var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}
