import Foundation
import Logging
import Shared

/// Executes one delivered run: claims it, runs its remaining stages under a renewed lease, and commits every step
/// (checkpoint, state and events in one fenced transaction) before publishing that step's events.
struct PipelineRunner: Sendable {
    /// What to do with the stream entry afterwards.
    enum Disposition: Equatable {
        /// The run's final state is committed (or another attempt already finished it): XACK.
        case acknowledge
        /// The run is unfinished and this worker cannot finish it: leave the entry pending for recovery.
        case leavePending
    }

    let store: RunStore
    let redis: RedisClient
    let keys: RedisKeys
    let workerID: String
    let heartbeatInterval: Duration
    let leaseDuration: Duration
    let stages: StageCatalog

    /// Claims and executes the run of `entry`.
    func execute(_ entry: RunStreamEntry, logger: Logger) async -> Disposition {
        var logger = logger
        logger[metadataKey: LogKey.runID] = "\(entry.runID)"
        logger[metadataKey: LogKey.tenantID] = "\(entry.tenantID)"
        do {
            guard let run = try await store.claim(entry, worker: workerID, lease: leaseDuration, logger: logger) else {
                logger.debug("Run already claimed or finished; acknowledging the duplicate delivery")
                return .acknowledge
            }
            logger[metadataKey: LogKey.attempt] = "\(run.attempt)"
            logger.debug("Claimed run")
            let runLogger = logger
            try await withLease(on: run, logger: runLogger) {
                try await execute(run, logger: runLogger)
            }
            return .acknowledge
        } catch let error as LeaseLost {
            logger.warning("Lost the run's lease; leaving it to its new owner", metadata: [LogKey.error: "\(error)"])
            return .leavePending
        } catch {
            logger.error("Run interrupted; leaving it pending for recovery", metadata: [LogKey.error: "\(String(reflecting: error))"])
            return .leavePending
        }
    }

    /// Runs `body` while renewing the lease; throws `LeaseLost` (cancelling `body`) if the lease is taken.
    private func withLease(on run: ClaimedRun, logger: Logger, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeatInterval)
                    do {
                        if try await !store.renewLease(run.id, attempt: run.attempt, lease: leaseDuration, logger: logger) {
                            throw LeaseLost(runID: run.id, attempt: run.attempt)
                        }
                    } catch let error as LeaseLost {
                        throw error
                    } catch {
                        logger.warning("Lease renewal failed; retrying", metadata: [LogKey.error: "\(error)"])
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func execute(_ run: ClaimedRun, logger: Logger) async throws {
        var events = EventSequencer(run: run)
        let input: RunInput
        let pipeline: [any AgentStage]
        do {
            input = try JSONText.decode(RunInput.self, from: run.input)
            guard let stages = stages.stages(for: run.pipeline, parameters: input.parameters) else {
                throw StageFailure("unknown pipeline \(run.pipeline)")
            }
            pipeline = stages
        } catch {
            try await fail(run, events: &events, code: "invalid_run", message: "\(error)", logger: logger)
            return
        }

        let names = pipeline.map(\.name)
        try await commit(
            RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                events: [events.next(.agentStarted, agent: nil, data: AgentStarted(pipeline: run.pipeline, stages: names, attempt: run.attempt))]
            ),
            logger: logger
        )
        var outputs = Dictionary(run.finishedStages.map { (names[safe: $0.index] ?? $0.name, $0.output) }, uniquingKeysWith: { $1 })
        let finished = Set(run.finishedStages.map(\.index))
        for (index, stage) in pipeline.enumerated() where !finished.contains(index) {
            var stageLogger = logger
            stageLogger[metadataKey: LogKey.stage] = "\(stage.name)"
            let started = SubAgentUpdate(stageIndex: index, stageCount: pipeline.count, status: "started")
            try await commit(
                RunWrite(
                    runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                    events: [events.next(.subAgentUpdate, agent: stage.name, data: started)], currentStage: stage.name
                ),
                logger: stageLogger
            )
            let startedAt = Date()
            let result: StageResult
            do {
                result = try await stage.run(StageInput(run: run, input: input, outputs: outputs, index: index))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                stageLogger.warning("Stage failed", metadata: [LogKey.error: "\(error)"])
                try await fail(run, events: &events, code: "stage_failed", message: "\(stage.name): \(error)", logger: stageLogger)
                return
            }
            let finishedAt = Date()
            var completed = SubAgentUpdate(stageIndex: index, stageCount: pipeline.count, status: "completed")
            completed.summary = result.summary
            completed.durationMilliseconds = Int((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
            try await commit(
                RunWrite(
                    runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                    events: [events.next(.subAgentUpdate, agent: stage.name, data: completed)],
                    checkpoint: StageRecord(index: index, name: stage.name, attempt: run.attempt, output: result.output, startedAt: startedAt, finishedAt: finishedAt)
                ),
                logger: stageLogger
            )
            outputs[stage.name] = result.output
        }

        let result = names.last.flatMap { outputs[$0] } ?? "null"
        try await commit(
            RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                events: [events.next(.agentCompleted, agent: nil, rawData: #"{"status":"succeeded","result":"# + result + "}")],
                outcome: .succeeded(result: result)
            ),
            logger: logger
        )
        logger.debug("Run succeeded")
    }

    /// Ends the run as failed, with an `error` event and the closing `agent_completed`.
    private func fail(_ run: ClaimedRun, events: inout EventSequencer, code: String, message: String, logger: Logger) async throws {
        let error = ServerMessage.data(ErrorData(code: code, message: message))
        try await commit(
            RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                events: [
                    events.next(.error, agent: nil, rawData: error),
                    events.next(.agentCompleted, agent: nil, rawData: #"{"status":"failed","error":"# + error + "}"),
                ],
                outcome: .failed(error: error)
            ),
            logger: logger
        )
    }

    /// Commits a step, then publishes its events; a publish failure is logged, since the log already holds them.
    private func commit(_ write: RunWrite, logger: Logger) async throws {
        try await store.commit(write, logger: logger)
        let channel = keys.runEvents(write.runID)
        do {
            _ = try await redis.pipeline(write.events.map { ["PUBLISH", RedisArgument(channel), RedisArgument($0.wireJSON)] })
        } catch {
            logger.warning("Publishing events failed; clients will catch up from the event log", metadata: [LogKey.error: "\(error)"])
        }
    }
}

/// Hands out consecutive `seq` numbers for one claimed run.
struct EventSequencer {
    let run: ClaimedRun
    private(set) var nextSeq: Int

    init(run: ClaimedRun) {
        self.run = run
        self.nextSeq = run.nextSeq
    }

    mutating func next(_ type: EventType, agent: String?, data: some Encodable) -> RunEvent {
        next(type, agent: agent, rawData: ServerMessage.data(data))
    }

    mutating func next(_ type: EventType, agent: String?, rawData: String) -> RunEvent {
        defer { nextSeq += 1 }
        return RunEvent(runID: run.id, threadID: run.threadID, seq: nextSeq, type: type, agentName: agent, data: rawData, timestamp: Date())
    }
}

/// `agent_started` data.
struct AgentStarted: Encodable {
    let pipeline: String
    let stages: [String]
    let attempt: Int
}

/// `sub_agent_update` data.
struct SubAgentUpdate: Encodable {
    let stageIndex: Int
    let stageCount: Int
    let status: String
    var summary: String?
    var durationMilliseconds: Int?

    enum CodingKeys: String, CodingKey {
        case stageIndex = "stage_index"
        case stageCount = "stage_count"
        case status, summary
        case durationMilliseconds = "duration_ms"
    }
}

/// `error` data.
struct ErrorData: Encodable {
    let code: String
    let message: String
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
