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
        case record
    }
}

/// The pipelines Netra runs and the names of their stages; the gateway validates against it, the worker executes it.
public enum PipelineKind: String, Codable, Sendable, CaseIterable {
    /// triage → data → optimizations → actions → reporting.
    case optimize
    /// `stages` no-op stages of `stage_ms` each, for tests and benchmarks.
    case bench

    /// The stage names of `optimize`, in order.
    public static let optimizeStages = ["triage", "data", "optimizations", "actions", "reporting"]

    /// How often a run retries a stage that failed with a retryable error before it fails.
    public var maxRetries: Int {
        switch self {
        case .optimize: 3
        case .bench: 3
        }
    }

    /// Bounds of the `bench` parameters.
    public static let benchStageRange = 1...50
    public static let benchDurationRange = 0...60_000

    /// The names of the stages a run with these parameters executes, or a reason the parameters are invalid.
    public func stageNames(for parameters: RunParameters) -> Result<[String], PipelineError> {
        switch self {
        case .optimize:
            return .success(Self.optimizeStages)
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
