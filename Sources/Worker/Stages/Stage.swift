import Foundation
import Logging
import Shared

/// What a stage sees: the run, its input, and the outputs of the stages before it.
struct StageInput: Sendable {
    let run: ClaimedRun
    let input: RunInput
    /// JSON text of each earlier stage's output, by stage name.
    let outputs: [String: String]
    /// This stage's position in the pipeline.
    let index: Int
    /// Sends events while the stage works (tool calls, progress).
    var emitter = StageEmitter.discarding

    /// Decodes an earlier stage's output.
    func output<T: Decodable>(of stage: String, as type: T.Type) throws -> T {
        guard let text = outputs[stage] else { throw StageFailure("stage \(stage) has no output") }
        return try JSONText.decode(type, from: text)
    }
}

/// Emits a stage's own events: each is committed to the run's event log (fenced like every write of the run)
/// and then published, before `emit` returns.
struct StageEmitter: Sendable {
    let agent: String
    let send: @Sendable (EventType, String) async throws -> Void

    init(agent: String, send: @escaping @Sendable (EventType, String) async throws -> Void) {
        self.agent = agent
        self.send = send
    }

    /// An emitter that drops events (stages run outside a pipeline, in tests).
    static let discarding = StageEmitter(agent: "") { _, _ in }

    func emit(_ type: EventType, _ data: some Encodable) async throws {
        try await send(type, ServerMessage.data(data))
    }

    /// Emits data that already is JSON text.
    func emit(_ type: EventType, json: String) async throws {
        try await send(type, json)
    }
}

/// A stage error: retryable ones (a timeout, an unavailable dependency) are retried with backoff up to the pipeline's
/// limit; fatal ones (bad input, a bug) fail the run at once. Errors of other types count as retryable.
struct StageFailure: Error, CustomStringConvertible {
    let description: String
    let isRetryable: Bool
    init(_ description: String, retryable: Bool = false) {
        self.description = description
        self.isRetryable = retryable
    }
}

/// One sub-agent of a pipeline: a name, an input, and a Codable output stored as its checkpoint.
protocol AgentStage: Sendable {
    associatedtype Output: Codable & Sendable
    /// The stage name, also the `agent_name` of its events.
    var name: String { get }
    /// Computes the output. Cancellation must be honoured promptly.
    func execute(_ input: StageInput) async throws -> Output
    /// One line for the `sub_agent_update` event.
    func summary(of output: Output) -> String
}

/// A stage's output as stored and sent.
struct StageResult: Sendable {
    /// JSON text of the output.
    let output: String
    let summary: String
}

extension AgentStage {
    /// Executes the stage and encodes its output.
    func run(_ input: StageInput) async throws -> StageResult {
        let output = try await execute(input)
        return StageResult(output: try JSONText.encode(output), summary: summary(of: output))
    }
}

/// Maps a pipeline to its stage implementations.
struct StageCatalog: Sendable {
    /// Where `bench` stages record their executions when a run asks for it.
    var recorder: ExecutionRecorder?
    /// The tenant's workload data, which the `optimize` and `generate` stages read and write.
    var workloads: WorkloadStore?
    var catalog = SupplyCatalog.shipped
    /// The optional OpenAI-compatible model: triage may let it classify the goal, reporting may let it write a
    /// narrative around the computed numbers; both fall back to the rules on any failure.
    var llm: ChatCompletionsClient?
    var logger = Logger(label: "netra.stages")

    /// The stages of `pipeline`, in order; `nil` for an unknown pipeline.
    func stages(for pipeline: String, parameters: RunParameters) -> [any AgentStage]? {
        switch PipelineKind(rawValue: pipeline) {
        case .optimize:
            guard let workloads else { return nil }
            return [
                TriageStage(workloads: workloads, catalog: catalog, logger: logger, classifier: llm.map { GoalClassifier(client: $0) }),
                DataStage(workloads: workloads, logger: logger), OptimizationsStage(catalog: catalog), ActionsStage(),
                ReportingStage(catalog: catalog, narrator: llm.map { ReportNarrator(client: $0) }, logger: logger),
            ]
        case .bench:
            guard case .success(let names) = PipelineKind.bench.stageNames(for: parameters) else { return nil }
            let minimum = parameters.stageMilliseconds ?? 0
            let maximum = max(parameters.stageMillisecondsMax ?? minimum, minimum)
            return names.enumerated().map { index, name in
                BenchStage(
                    name: name, index: index, durations: minimum...maximum,
                    failure: parameters.failStage == index ? (times: parameters.failTimes ?? 1, fatal: parameters.failFatal ?? false) : nil,
                    recorder: parameters.record == true ? recorder : nil
                )
            }
        case .generate:
            guard let workloads else { return nil }
            return [GenerateStage(workloads: workloads, catalog: catalog, logger: logger)]
        case nil:
            return nil
        }
    }
}

/// A `bench` stage: waits its duration (cancellably) and reports it.
struct BenchStage: AgentStage {
    struct Output: Codable, Sendable {
        let stage: String
        let sleptMilliseconds: Int64
        enum CodingKeys: String, CodingKey {
            case stage
            case sleptMilliseconds = "slept_ms"
        }
    }

    let name: String
    let index: Int
    /// The stage sleeps a duration drawn from this range, in milliseconds.
    let durations: ClosedRange<Int>
    /// Fails the first `times` executions (counted by the run's retries), to exercise the retry path.
    var failure: (times: Int, fatal: Bool)?
    var recorder: ExecutionRecorder?

    func execute(_ input: StageInput) async throws -> Output {
        try await recorder?.record(input.run, stage: index)
        let milliseconds = Int.random(in: durations)
        if milliseconds > 0 { try await Task.sleep(for: .milliseconds(milliseconds)) }
        if let failure, input.run.retries < failure.times {
            throw StageFailure("\(name) failed on purpose (execution \(input.run.retries + 1))", retryable: !failure.fatal)
        }
        return Output(stage: name, sleptMilliseconds: Int64(milliseconds))
    }

    func summary(of output: Output) -> String { "\(name) done" }
}

/// Writes one `stage_executions` row per stage execution.
struct ExecutionRecorder: Sendable {
    let store: RunStore
    let worker: String
    let logger: Logger

    func record(_ run: ClaimedRun, stage: Int) async throws {
        try await store.recordExecution(run.id, stage: stage, attempt: run.attempt, worker: worker, logger: logger)
    }
}
