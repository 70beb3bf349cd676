/// The input of every run, stored as `runs.input`.
public struct RunInput: Codable, Sendable, Equatable {
    /// What the user asked.
    public var message: String
    /// Pipeline-specific parameters (for `bench`: `stages`, `stage_ms`).
    public var parameters: RunParameters

    public init(message: String, parameters: RunParameters = .init()) {
        self.message = message
        self.parameters = parameters
    }
}

/// Pipeline parameters. Unknown keys are rejected at the API edge by decoding into this type.
public struct RunParameters: Codable, Sendable, Equatable {
    /// `bench`: how many stages.
    public var stages: Int?
    /// `bench`: how long each stage sleeps, in milliseconds.
    public var stageMilliseconds: Int?
    /// `bench`: the stage index that fails, to exercise retries.
    public var failStage: Int?
    /// `bench`: how many executions of `failStage` fail before it succeeds.
    public var failTimes: Int?
    /// `bench`: whether that failure is fatal rather than retryable.
    public var failFatal: Bool?
    /// `bench`: when set, each stage sleeps a random time from `stage_ms` to this many milliseconds.
    public var stageMillisecondsMax: Int?
    /// `bench`: record every stage execution in `stage_executions` (for the chaos check).
    public var record: Bool?
    /// `generate`: how many workload events to write, over how many days, from which seed, with which traffic mix.
    public var events: Int?
    public var days: Int?
    public var seed: UInt64?
    public var profile: String?
    /// `generate`: the data ends at the start of this day (days since 1970, UTC), fixed when the job is submitted so
    /// that a re-executed job writes the same events.
    public var endDay: Int?

    public init(stages: Int? = nil, stageMilliseconds: Int? = nil, failStage: Int? = nil, failTimes: Int? = nil, failFatal: Bool? = nil) {
        self.stages = stages
        self.stageMilliseconds = stageMilliseconds
        self.failStage = failStage
        self.failTimes = failTimes
        self.failFatal = failFatal
    }

    enum CodingKeys: String, CodingKey {
        case stages
        case stageMilliseconds = "stage_ms"
        case failStage = "fail_stage"
        case failTimes = "fail_times"
        case failFatal = "fail_fatal"
        case stageMillisecondsMax = "stage_ms_max"
        case record, events, days, seed, profile
        case endDay = "end_day"
    }
}

/// The pipelines Netra runs and the names of their stages; the gateway validates against it, the worker executes it.
public enum PipelineKind: String, Codable, Sendable, CaseIterable {
    /// triage → data → optimizations → actions → reporting.
    case optimize
    /// `stages` no-op stages of `stage_ms` each, for tests and benchmarks.
    case bench
    /// One stage that writes a synthetic workload for the tenant (a generation job).
    case generate

    /// The stage names of `optimize`, in order.
    public static let optimizeStages = ["triage", "data", "optimizations", "actions", "reporting"]

    /// How often a run retries a stage that failed with a retryable error before it fails.
    public var maxRetries: Int {
        switch self {
        case .optimize: 3
        case .bench: 3
        case .generate: 3
        }
    }

    /// Bounds of the `bench` parameters.
    public static let benchStageRange = 1...50
    public static let benchDurationRange = 0...60_000
    /// Bounds of the `generate` parameters.
    public static let generateEventRange = 1...2_000_000
    public static let generateDayRange = 1...60

    /// The names of the stages a run with these parameters executes, or a reason the parameters are invalid.
    public func stageNames(for parameters: RunParameters) -> Result<[String], PipelineError> {
        switch self {
        case .optimize:
            return .success(Self.optimizeStages)
        case .generate:
            guard Self.generateEventRange.contains(parameters.events ?? 10_000) else {
                return .failure(PipelineError("events must be from 1 to 2000000"))
            }
            guard Self.generateDayRange.contains(parameters.days ?? 14) else { return .failure(PipelineError("days must be from 1 to 60")) }
            guard parameters.profile.map(WorkloadGenerator.Profile.init(rawValue:)) != .some(nil) else {
                return .failure(PipelineError("profile must be one of \(WorkloadGenerator.Profile.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            return .success(["generate"])
        case .bench:
            let count = parameters.stages ?? 5
            guard Self.benchStageRange.contains(count) else {
                return .failure(PipelineError("parameters.stages must be from 1 to 50"))
            }
            guard Self.benchDurationRange.contains(parameters.stageMilliseconds ?? 0) else {
                return .failure(PipelineError("parameters.stage_ms must be from 0 to 60000"))
            }
            guard (parameters.stageMilliseconds ?? 0)...Self.benchDurationRange.upperBound ~= (parameters.stageMillisecondsMax ?? parameters.stageMilliseconds ?? 0) else {
                return .failure(PipelineError("parameters.stage_ms_max must be from stage_ms to 60000"))
            }
            guard (0..<count).contains(parameters.failStage ?? 0), (0...100).contains(parameters.failTimes ?? 0) else {
                return .failure(PipelineError("parameters.fail_stage must name a stage and fail_times be from 0 to 100"))
            }
            return .success((1...count).map { "stage-\($0)" })
        }
    }
}

/// Invalid pipeline parameters.
public struct PipelineError: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
