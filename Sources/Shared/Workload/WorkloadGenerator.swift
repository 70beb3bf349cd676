import Foundation

/// A fast, deterministic synthetic AI workload with planted, documented opportunities (see ``Plan``).
///
/// Events come in time order, a batch at a time, so a million events never sit in memory at once. The same
/// configuration and seed always give the same events (on every platform: sampling avoids libm). Timestamps have
/// millisecond precision and `cost_usd` is left `nil` (it is computed from the supply catalog at ingest). As a
/// `Sequence`, `for event in generator` and `Array(generator)` iterate a copy and leave `generator` where it was.
///
/// ```swift
/// var generator = WorkloadGenerator(events: 1_000_000, days: 30, seed: 42)
/// while let batch = generator.next(batch: 5_000) { try await store.insert(batch) }
/// ```
public struct WorkloadGenerator: Sendable, Sequence, IteratorProtocol {
    /// The features, rates and anomaly days of this workload.
    public let plan: Plan
    /// Events still to come.
    public var remaining: Int { plan.events - emitted }

    private var random: Xoshiro256StarStar
    private let users: [String]
    /// Prefix hashes by `day * templates + template`, for each feature with prefixes (indexed like `features`).
    private let prefixHashes: [[String]]
    private let promptSalt: UInt64
    private var promptCounter: UInt64 = 0
    /// Cumulative volume weight at the start of each hour of the window (`days * 24 + 1` entries).
    private let cumulativeHourWeight: [Double]
    private var emitted = 0
    private var hour = -1
    private var hourTimes: [Int64] = []
    private var hourCursor = 0
    private var hourFeatureWeights: [Double]
    private var pendingRetries: [Call] = []
    private var recentPrompts = RecentPrompts(capacity: 1_024)

    /// Creates a generator.
    ///
    /// - Parameters:
    ///   - events: Exactly how many events to produce (≥ 0).
    ///   - days: Length of the window in days (≥ 1).
    ///   - seed: Fixes every random choice; the same seed and configuration give identical events.
    ///   - profile: The traffic mix.
    ///   - end: Where the data ends. It is rounded down to a UTC midnight so that every day is whole and no event lies in
    ///     the future: with the default (now), the last day of data is yesterday (UTC).
    public init(events: Int, days: Int, seed: UInt64, profile: Profile = .saas, end: Date = Date()) {
        precondition(events >= 0 && days >= 1, "events must be ≥ 0 and days ≥ 1")
        let endDay = Int((end.timeIntervalSince1970 / 86_400).rounded(.down))
        var random = Xoshiro256StarStar(seed: seed)
        let anomalies = Self.anomalies(profile: profile, days: days, startDay: endDay - days, random: &random)
        plan = Plan(profile: profile, seed: seed, events: events, days: days, endDay: endDay, anomalies: anomalies)
        users = (1...plan.userCount).map { "user-" + String(repeating: "0", count: Swift.max(0, 4 - String($0).count)) + String($0) }
        promptSalt = random.next()
        prefixHashes = WorkloadCatalog.features.map { spec in
            let salt = random.next()
            return (0..<days * (spec.prefixTokens?.count ?? 0)).map { hexString(SplitMix64.mix(salt &+ UInt64($0))) }
        }
        hourFeatureWeights = Array(repeating: 0, count: WorkloadCatalog.features.count)
        var cumulative = [0.0]
        cumulative.reserveCapacity(days * 24 + 1)
        for index in 0..<days * 24 {
            cumulative.append(cumulative[index] + Self.featureWeights(plan: plan, hour: index).reduce(0, +))
        }
        cumulativeHourWeight = cumulative
        self.random = random
    }

    /// The next event, or `nil` after the last.
    public mutating func next() -> WorkloadEvent? {
        guard emitted < plan.events else { return nil }
        while hourCursor == hourTimes.count { startNextHour() }
        let time = hourTimes[hourCursor]
        hourCursor += 1
        emitted += 1
        if let retry = takeDueRetry(at: time) { return complete(retry, at: time) }
        return complete(freshCall(), at: time)
    }

    /// The next `batch` events (fewer at the end), or `nil` when none are left.
    public mutating func next(batch: Int) -> [WorkloadEvent]? {
        precondition(batch > 0, "batch must be positive")
        guard remaining > 0 else { return nil }
        var events: [WorkloadEvent] = []
        events.reserveCapacity(Swift.min(batch, remaining))
        while events.count < batch, let event = next() { events.append(event) }
        return events
    }
}

extension WorkloadGenerator {
    /// One request: what a retry repeats.
    private struct Call {
        var feature: Int
        var user: String
        var promptHash: String
        var prefixHash: String?
        var prefixTokens: Int?
        var inputTokens: Int
        var attempt = 1
        /// When a retry may go out (Unix milliseconds).
        var due: Int64 = 0
    }

    /// The last summarize prompts, from which duplicates are drawn.
    private struct RecentPrompts {
        let capacity: Int
        var prompts: [(hash: String, inputTokens: Int)] = []
        var next = 0

        init(capacity: Int) { self.capacity = capacity }

        mutating func remember(_ hash: String, _ inputTokens: Int) {
            if prompts.count < capacity { prompts.append((hash, inputTokens)) } else { prompts[next] = (hash, inputTokens) }
            next = (next + 1) % capacity
        }
    }

    /// Draws this hour's event times (sorted Unix milliseconds) and feature mix.
    private mutating func startNextHour() {
        hour += 1
        let total = cumulativeHourWeight[cumulativeHourWeight.count - 1]
        func boundary(_ hour: Int) -> Int {
            hour >= cumulativeHourWeight.count - 1 ? plan.events : Int((Double(plan.events) * cumulativeHourWeight[hour] / total).rounded())
        }
        let count = boundary(hour + 1) - boundary(hour)
        let hourStart = Int64(plan.start.timeIntervalSince1970) * 1_000 + Int64(hour) * 3_600_000
        hourTimes.removeAll(keepingCapacity: true)
        for _ in 0..<count { hourTimes.append(hourStart + Int64(random.below(3_600_000))) }
        hourTimes.sort()
        hourCursor = 0
        hourFeatureWeights = Self.featureWeights(plan: plan, hour: hour)
        for index in 1..<hourFeatureWeights.count { hourFeatureWeights[index] += hourFeatureWeights[index - 1] }
    }

    private mutating func freshCall() -> Call {
        let pick = random.unit() * hourFeatureWeights[hourFeatureWeights.count - 1]
        let feature = hourFeatureWeights.firstIndex { pick < $0 } ?? hourFeatureWeights.count - 1
        let spec = WorkloadCatalog.features[feature]
        let user = users[Int(Double(users.count) * random.unit() * random.unit())]  // skewed: low ids are heavy users
        if spec.duplicateRate > 0, !recentPrompts.prompts.isEmpty, random.chance(spec.duplicateRate) {
            let repeated = recentPrompts.prompts[random.below(recentPrompts.prompts.count)]
            return Call(feature: feature, user: user, promptHash: repeated.hash, inputTokens: repeated.inputTokens)
        }
        promptCounter += 1
        var call = Call(
            feature: feature, user: user, promptHash: hexString(SplitMix64.mix(promptSalt &+ promptCounter)),
            inputTokens: random.logNormal(median: spec.input.median, spread: spec.input.spread, in: spec.input.range))
        if let templates = spec.prefixTokens {
            let template = random.below(templates.count)
            call.prefixHash = prefixHashes[feature][(hour / 24) * templates.count + template]
            call.prefixTokens = templates[template]
            call.inputTokens += templates[template]
        }
        if spec.duplicateRate > 0 { recentPrompts.remember(call.promptHash, call.inputTokens) }
        return call
    }

    private mutating func takeDueRetry(at time: Int64) -> Call? {
        guard !pendingRetries.isEmpty else { return nil }
        var earliest = 0
        for index in pendingRetries.indices where pendingRetries[index].due < pendingRetries[earliest].due { earliest = index }
        guard pendingRetries[earliest].due <= time else { return nil }
        let retry = pendingRetries[earliest]
        pendingRetries[earliest] = pendingRetries[pendingRetries.count - 1]
        pendingRetries.removeLast()
        return retry
    }

    /// How a call ended.
    private struct Outcome {
        var status: CallStatus
        var outputTokens = 0
        var ttftMs: Double?
        var latencyMs: Double
    }

    /// Decides how the call ends, schedules its retry if it failed, and makes the event.
    private mutating func complete(_ call: Call, at time: Int64) -> WorkloadEvent {
        let spec = WorkloadCatalog.features[call.feature]
        let model = WorkloadCatalog.models[spec.model]
        let outcome = self.outcome(of: call, spec: spec, model: model)
        if outcome.status != .ok, call.attempt < plan.maxAttempts, random.chance(plan.retryProbability) {
            var retry = call
            retry.attempt += 1
            let backoff = outcome.status == .error ? random.within(1_000...8_000) : random.within(500...2_000)
            retry.due = time + Int64(outcome.latencyMs) + Int64(backoff)
            pendingRetries.append(retry)
        }
        return WorkloadEvent(
            timestamp: Date(timeIntervalSince1970: Double(time) / 1_000), model: model.name, provider: model.provider,
            inputTokens: call.inputTokens, outputTokens: outcome.outputTokens, cachedInputTokens: spec.reportsCachedTokens ? 0 : nil,
            latencyMs: outcome.latencyMs, ttftMs: outcome.ttftMs, status: outcome.status, promptHash: call.promptHash,
            prefixHash: call.prefixHash, prefixTokens: call.prefixTokens, maxTokens: spec.maxTokens, feature: spec.name, user: call.user,
            interactive: spec.interactive)
    }

    /// Draws the status, then output length and timings: errors return fast, timeouts at the client's limit.
    private mutating func outcome(of call: Call, spec: FeatureSpec, model: Plan.Model) -> Outcome {
        let draw = random.unit()
        if draw < spec.errorRate {
            return Outcome(status: .error, latencyMs: Self.tenths(150 + 1_500 * random.unit()))
        }
        if draw < spec.errorRate + spec.timeoutRate {
            let limit = spec.interactive ? plan.interactiveTimeoutMs : plan.backgroundTimeoutMs
            return Outcome(status: .timeout, latencyMs: Self.tenths(limit + 250 * random.unit()))
        }
        let outputTokens = spec.outputFollowsInput
            ? Swift.min(Swift.max(Int((Double(call.inputTokens) * (0.8 + 0.5 * random.unit())).rounded()), 1), 6_000)
            : random.logNormal(median: spec.output.median, spread: spec.output.spread, in: spec.output.range)
        let firstToken = model.ttftBaseMs * portableExp(0.25 * random.normal()) + model.prefillMsPerKToken * Double(call.inputTokens) / 1_000
        let streaming = Double(outputTokens) * 1_000 / model.outputTokensPerSecond * portableExp(0.15 * random.normal())
        return Outcome(status: .ok, outputTokens: outputTokens, ttftMs: Self.tenths(firstToken), latencyMs: Self.tenths(firstToken + streaming))
    }

    private static func tenths(_ value: Double) -> Double { (value * 10).rounded() / 10 }

}
