import Foundation
import Shared
import Testing

@Suite("Synthetic workload generator")
struct WorkloadGeneratorTests {
    /// 2025-06-05T00:00Z, a Thursday: the two days before it are weekdays.
    static let end = Date(timeIntervalSince1970: 1_749_081_600)
    static let models: [String: String] = [
        "gpt-4o": "openai", "gpt-4o-mini": "openai", "gpt-4.1": "openai", "claude-sonnet-4": "anthropic",
        "claude-3-5-haiku": "anthropic", "gemini-2.0-flash": "google", "llama-3.1-70b-instruct": "together",
        "llama-3.1-8b-instruct": "together",
    ]
    /// List prices (US dollars per million input and output tokens), only to compare days' spend.
    static let prices: [String: (input: Double, output: Double)] = [
        "gpt-4o": (2.5, 10), "gpt-4o-mini": (0.15, 0.6), "gpt-4.1": (2, 8), "claude-sonnet-4": (3, 15), "claude-3-5-haiku": (0.8, 4),
        "gemini-2.0-flash": (0.1, 0.4), "llama-3.1-70b-instruct": (0.88, 0.88), "llama-3.1-8b-instruct": (0.18, 0.18),
    ]

    /// 20,000 saas events over two weekdays, shared by the rate tests.
    static let sample = Sample(WorkloadGenerator(events: 20_000, days: 2, seed: 7, end: end))

    struct Sample: Sendable {
        let plan: WorkloadGenerator.Plan
        let events: [WorkloadEvent]
        let byFeature: [String: [WorkloadEvent]]

        init(_ generator: WorkloadGenerator) {
            plan = generator.plan
            events = Array(generator)
            byFeature = Dictionary(grouping: events) { $0.feature ?? "" }
        }

        func feature(_ name: String) -> [WorkloadEvent] { byFeature[name] ?? [] }
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    @Test func sameSeedGivesSameEventsAndAnotherSeedDiffers() {
        var batched = WorkloadGenerator(events: 3_000, days: 3, seed: 11, end: Self.end)
        var inBatches: [WorkloadEvent] = []
        while let batch = batched.next(batch: 700) { inBatches += batch }
        let whole = Array(WorkloadGenerator(events: 3_000, days: 3, seed: 11, end: Self.end))
        let other = Array(WorkloadGenerator(events: 3_000, days: 3, seed: 12, end: Self.end))
        #expect(inBatches == whole)
        #expect(whole != other)
        #expect(Set(whole.compactMap(\.promptHash)).isDisjoint(with: other.compactMap(\.promptHash)))
        #expect(WorkloadGenerator(events: 10, days: 30, seed: 5).plan.anomalies == WorkloadGenerator(events: 10, days: 30, seed: 5).plan.anomalies)
    }

    @Test(arguments: [0, 1, 999, 10_001])
    func batchesAddUpToExactlyTheRequestedCount(events: Int) {
        var generator = WorkloadGenerator(events: events, days: 4, seed: 3, end: Self.end)
        var total = 0
        while let batch = generator.next(batch: 250) {
            #expect(!batch.isEmpty && batch.count <= 250)
            total += batch.count
        }
        let afterTheEnd = (generator.next(batch: 250), generator.next())
        #expect(total == events && generator.remaining == 0)
        #expect(afterTheEnd.0 == nil && afterTheEnd.1 == nil)
    }

    @Test func timestampsAreOrderedInsideWholeUTCDays() throws {
        let generator = WorkloadGenerator(events: 20_000, days: 3, seed: 1, end: Date(timeIntervalSince1970: 1_749_081_600 + 15 * 3_600))
        #expect(generator.plan.end == Self.end)
        #expect(generator.plan.start == Self.end.addingTimeInterval(-3 * 86_400))
        let events = Array(generator)
        let first = try #require(events.first), last = try #require(events.last)
        #expect(first.timestamp >= generator.plan.start && last.timestamp < generator.plan.end)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
        let perDay = Dictionary(grouping: events) { Int($0.timestamp.timeIntervalSince(generator.plan.start) / 86_400) }
        #expect(perDay.keys.sorted() == [0, 1, 2])
    }

    @Test func everyEventPassesTheUploadRulesAndRoundTripsThroughTheParser() throws {
        let events = Array(WorkloadGenerator(events: 5_000, days: 2, seed: 21, profile: .chat, end: Self.end))
        #expect(events.allSatisfy { WorkloadParser.validate($0) == nil })
        #expect(events.allSatisfy { $0.costUSD == nil && $0.feature != nil && $0.user != nil && $0.promptHash != nil })
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let body = try events.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n")
        let parsed = WorkloadParser.parse(Array(body.utf8), format: .ndjson)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.events == events)
    }

    @Test func modelsComeFromTheCatalogListWithTheirProviders() {
        let sample = Self.sample
        let used = Set(sample.events.map { "\($0.model)|\($0.provider)" })
        #expect(used == Set(Self.models.map { "\($0.key)|\($0.value)" }))
        for feature in sample.plan.features {
            #expect(Self.models[feature.model] == feature.provider)
            #expect(sample.feature(feature.name).allSatisfy { $0.model == feature.model && $0.interactive == feature.interactive })
        }
        #expect(sample.plan.features.count == 8 && abs(sample.plan.features.map(\.share).reduce(0, +) - 1) < 1e-9)
    }

    @Test func featureSharesFailuresAndUsersMatchThePlan() {
        let sample = Self.sample
        for feature in sample.plan.features {
            let share = Double(sample.feature(feature.name).count) / Double(sample.events.count)
            #expect(abs(share - feature.share) < 0.03, "\(feature.name): \(share) vs \(feature.share)")
        }
        let failures = sample.events.filter { $0.status != .ok }
        let failureRate = Double(failures.count) / Double(sample.events.count)
        #expect((0.02...0.04).contains(failureRate))
        #expect(failures.allSatisfy { $0.outputTokens == 0 && $0.ttftMs == nil })
        #expect(failures.filter { $0.status == .timeout }.allSatisfy { $0.latencyMs >= sample.plan.interactiveTimeoutMs })
        let users = Set(sample.events.compactMap(\.user))
        #expect(users.count > 200 && users.count <= sample.plan.userCount && users.allSatisfy { $0.hasPrefix("user-") })
    }

    @Test func summarizeRepeatsPromptsAtThePlannedRateAndNothingElseDoes() {
        let sample = Self.sample
        func repeatsOfSuccessfulPrompts(_ events: [WorkloadEvent]) -> Int {
            var succeeded = Set<String>(), repeats = 0
            for event in events {
                guard let hash = event.promptHash else { continue }
                if succeeded.contains(hash) { repeats += 1 }
                if event.status == .ok { succeeded.insert(hash) }
            }
            return repeats
        }
        #expect(sample.plan.duplicateFeature == "summarize" && sample.plan.duplicateRate == 0.2)
        let summarize = sample.feature(sample.plan.duplicateFeature)
        let rate = Double(repeatsOfSuccessfulPrompts(summarize)) / Double(summarize.count)
        #expect(abs(rate - sample.plan.duplicateRate) < 0.04, "duplicate rate \(rate)")
        #expect(repeatsOfSuccessfulPrompts(sample.events.filter { $0.feature != sample.plan.duplicateFeature }) == 0)
    }

    @Test func failedCallsAreMostlyRetriedSoonWithTheSamePrompt() {
        let events = Self.sample.events
        var failed = 0, retried = 0
        for (index, event) in events.enumerated() where event.status != .ok {
            failed += 1
            let deadline = event.timestamp.addingTimeInterval(event.latencyMs / 1_000 + 300)
            let retry = events[(index + 1)...].prefix { $0.timestamp <= deadline }.first { $0.promptHash == event.promptHash }
            if let retry, retry.user == event.user, retry.feature == event.feature, retry.inputTokens == event.inputTokens { retried += 1 }
        }
        #expect(failed > 300)
        #expect(Double(retried) / Double(failed) > 0.8, "\(retried) of \(failed) retried")
    }

    @Test func extractSharesLongPrefixesWithinMinutesAndChatsAreTooShortToCache() {
        let sample = Self.sample
        let plan = sample.plan
        let extract = sample.feature(plan.prefixFeature)
        #expect(extract.allSatisfy { $0.prefixHash != nil && plan.prefixTokens.contains($0.prefixTokens ?? 0) && $0.cachedInputTokens == 0 })
        #expect(plan.prefixTokens == [1_152, 2_304] && plan.shortPrefixTokens == 640)
        #expect(Set(extract.compactMap(\.prefixHash)).count == plan.prefixTokens.count * plan.days)
        var lastUse: [String: Date] = [:], gaps: [Double] = []
        for event in extract {
            guard let prefix = event.prefixHash else { continue }
            if let last = lastUse[prefix] { gaps.append(event.timestamp.timeIntervalSince(last)) }
            lastUse[prefix] = event.timestamp
        }
        #expect(Double(gaps.filter { $0 <= 300 }.count) / Double(gaps.count) > 0.7)
        #expect(sample.feature(plan.shortPrefixFeature).allSatisfy { $0.prefixTokens == plan.shortPrefixTokens && $0.prefixHash != nil })
        let others = sample.events.filter { $0.feature != plan.prefixFeature && $0.feature != plan.shortPrefixFeature }
        #expect(others.allSatisfy { $0.prefixHash == nil && $0.prefixTokens == nil })
    }

    @Test func classifyIsOverservedAndOverReservedWhileOtherFeaturesAreNot() throws {
        let sample = Self.sample
        let classify = try #require(sample.plan.feature(sample.plan.rightSizingFeature))
        #expect(classify.model == "gpt-4o" && sample.plan.headroomFeature == classify.name)
        let calls = sample.feature(classify.name)
        #expect(calls.allSatisfy { $0.outputTokens <= 8 && $0.maxTokens == 4_096 && $0.inputTokens <= 1_200 })
        #expect(sample.events.allSatisfy { event in event.maxTokens.map { event.outputTokens <= $0 } ?? true })
        for feature in sample.plan.features where feature.name != classify.name {
            guard let limit = feature.maxTokens else { continue }
            let outputs = sample.feature(feature.name).filter { $0.status == .ok }.map { Double($0.outputTokens) }
            #expect(Double(limit) / Self.median(outputs) < 6, "\(feature.name)")
        }
    }

    @Test func trafficHasDailyRhythmAndInteractiveSplit() {
        let sample = Self.sample
        let utc = TimeZone(identifier: "UTC")!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        let summarize = sample.feature(sample.plan.nightlyFeature)
        let nightly = summarize.filter { sample.plan.nightlyHours.contains(calendar.component(.hour, from: $0.timestamp)) }
        #expect(Double(nightly.count) / Double(summarize.count) > 0.7)
        let interactive = sample.events.filter { $0.interactive == true }
        let busy = interactive.filter { (13..<17).contains(calendar.component(.hour, from: $0.timestamp)) }.count
        let quiet = interactive.filter { (2..<6).contains(calendar.component(.hour, from: $0.timestamp)) }.count
        #expect(busy > 4 * quiet)
        func interactiveShare(_ profile: WorkloadGenerator.Profile) -> Double {
            let events = Array(WorkloadGenerator(events: 4_000, days: 2, seed: 9, profile: profile, end: Self.end))
            return Double(events.filter { $0.interactive == true }.count) / Double(events.count)
        }
        #expect(interactiveShare(.batch) < 0.15 && interactiveShare(.saas) > 0.3 && interactiveShare(.chat) > 0.7)
    }

    @Test func biggerModelsAreSlowerToTheFirstToken() {
        let ok = Self.sample.events.filter { $0.status == .ok }
        func medianTTFT(_ model: String) -> Double { Self.median(ok.filter { $0.model == model }.compactMap(\.ttftMs)) }
        #expect(medianTTFT("claude-sonnet-4") > medianTTFT("claude-3-5-haiku"))
        #expect(medianTTFT("gpt-4o") > medianTTFT("gemini-2.0-flash"))
        #expect(medianTTFT("llama-3.1-70b-instruct") > medianTTFT("llama-3.1-8b-instruct"))
        #expect(ok.allSatisfy { ($0.ttftMs ?? .infinity) <= $0.latencyMs })
    }

    @Test(arguments: WorkloadGenerator.Profile.allCases)
    func anomalyDaysSpendSeveralTimesTheMedianDay(profile: WorkloadGenerator.Profile) {
        let generator = WorkloadGenerator(events: 20_000, days: 14, seed: 5, profile: profile, end: Self.end)
        let plan = generator.plan
        #expect(plan.anomalies.count == 2 && Set(plan.anomalies.map(\.day)).count == 2)
        var spend = [Double](repeating: 0, count: plan.days)
        for event in generator {
            let day = Int(event.timestamp.timeIntervalSince(plan.start) / 86_400)
            let price = Self.prices[event.model] ?? (0, 0)
            spend[day] += (Double(event.inputTokens) * price.input + Double(event.outputTokens) * price.output) / 1_000_000
        }
        let median = Self.median(spend)
        for anomaly in plan.anomalies {
            #expect(anomaly.start == plan.start.addingTimeInterval(Double(anomaly.day) * 86_400))
            #expect(spend[anomaly.day] > 2 * median, "\(anomaly.feature) on day \(anomaly.day)")
        }
        #expect(WorkloadGenerator(events: 10, days: 7, seed: 5, profile: profile).plan.anomalies.count == 1)
        #expect(WorkloadGenerator(events: 10, days: 6, seed: 5, profile: profile).plan.anomalies.isEmpty)
    }
}
