import Foundation
import Logging
import Metrics
import Shared
import Synchronization

/// Executes one delivered run: claims it, runs its remaining stages under a renewed lease, and commits every step
/// (checkpoint, state and events in one fenced transaction) before publishing that step's events. Steps commit behind
/// the execution (see `StepWriter`); the run's final state is committed before it is acknowledged.
struct PipelineRunner: Sendable {
    /// What to do with the stream entry afterwards.
    enum Disposition: Equatable {
        /// This delivery committed the run's final state: XACK and give the tenant's slot to its next waiting run.
        case release
        /// A retry is scheduled (the run keeps its slot) or the delivery was a duplicate: XACK only. Should a
        /// duplicate meet a run whose owner died before releasing its slot, the reconciler repairs the slot.
        case acknowledge
        /// The run is unfinished and this worker cannot finish it: leave the entry pending for recovery.
        case leavePending
    }

    let store: RunStore
    let redis: RedisClient
    let admission: Admission
    let stages: StageCatalog
    let registry: CancellationRegistry
    let delayed: DelayedQueue
    let batching: RunBatching
    /// The longest one commit (or publish) may take before the run is given up as interrupted; a store call that
    /// hangs (a connection lost mid-query) must not keep a run alive on heartbeats alone.
    var stepTimeout: Duration = .seconds(15)
    /// The first retry's delay; each further retry doubles it (with full jitter), up to `maxRetryDelay`.
    var retryBaseDelay: Duration = .seconds(1)
    var maxRetryDelay: Duration = .seconds(60)

    /// Claims and executes the run of `entry`.
    func execute(_ entry: RunStreamEntry, logger: Logger) async -> Disposition {
        var logger = logger
        logger[metadataKey: LogKey.runID] = "\(entry.runID)"
        logger[metadataKey: LogKey.tenantID] = "\(entry.tenantID)"
        do {
            guard let run = try await batching.claims.submit(entry) else {
                logger.debug("Run already claimed or finished; acknowledging the duplicate delivery")
                return .acknowledge
            }
            logger[metadataKey: LogKey.attempt] = "\(run.attempt)"
            logger.debug("Claimed run")
            NetraMetric.counter(NetraMetric.runsStarted, [("pipeline", run.pipeline)]).increment()
            let runLogger = logger
            let commits = batching.commits
            let stepTimeout = stepTimeout
            let writer = StepWriter { write in try await withTimeout(stepTimeout) { try await commits.submit(write) } }
            let ended: Bool
            do {
                ended = try await withLease(on: run, entry: entry, logger: runLogger) {
                    try await execute(run, writer: writer, logger: runLogger)
                }
            } catch is CancelRequested {
                // Nothing of the writer may land after the cancellation's events (their seq follows the stored ones).
                await writer.waitUntilIdle()
                let last = try await store.lastSeq(of: run.id, logger: logger)
                let completed = RunEvent(
                    runID: run.id, threadID: run.threadID, seq: last + 1, type: .agentCompleted, agentName: nil,
                    data: #"{"status":"cancelled"}"#, timestamp: Date()
                )
                _ = try await batching.commits.submit(
                    RunWrite(runID: run.id, tenantID: run.tenantID, attempt: run.attempt, events: [completed], outcome: .cancelled)
                )
                logger.debug("Run cancelled")
                NetraMetric.counter(NetraMetric.runsFinished, [("pipeline", run.pipeline), ("status", "cancelled")]).increment()
                ended = true
            } catch is CancellationError {
                // Shutting down before the run finished: give the lease back so another worker resumes it at once.
                await writer.waitUntilIdle()
                await release(run, logger: logger)
                logger.info("Run interrupted by shutdown; released for another worker")
                return .leavePending
            } catch let error as LeaseLost {
                await writer.waitUntilIdle()
                throw error
            } catch {
                await writer.waitUntilIdle()
                await release(run, logger: logger)
                throw error
            }
            guard ended else { return .acknowledge }
            if let thread = run.threadID { await RunQueue(store: store, admission: admission).releaseWaiting(on: thread, logger: logger) }
            return .release
        } catch let error as LeaseLost {
            logger.warning("Lost the run's lease; leaving it to its new owner", metadata: [LogKey.error: "\(error)"])
            return .leavePending
        } catch {
            logger.error("Run interrupted; leaving it pending for recovery", metadata: [LogKey.error: "\(String(reflecting: error))"])
            return .leavePending
        }
    }

    /// Gives the lease back after an interruption so that the reaper recovers the run without waiting it out.
    private func release(_ run: ClaimedRun, logger: Logger) async {
        let store = store
        _ = try? await withTimeout(.seconds(2)) { try await store.releaseLease(run.id, attempt: run.attempt, logger: logger) }
    }

    /// Runs `body` while the run is held: the lease keeper renews its lease (see `LeaseKeeper`).
    ///
    /// Throws `LeaseLost` if another attempt took the run, and `CancelRequested` when a client cancels it (through the
    /// control channel or the flag a renewal reads); either cancels `body`.
    private func withLease<Result: Sendable>(
        on run: ClaimedRun, entry: RunStreamEntry, logger: Logger, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let interruptions = registry.hold(run, entry: entry)
        defer { registry.remove(run.id) }
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                for await interruption in interruptions {
                    switch interruption {
                    case .cancelRequested: throw CancelRequested()
                    case .leaseLost: throw LeaseLost(runID: run.id, attempt: run.attempt)
                    }
                }
                throw CancellationError()  // only reached when the group is being cancelled
            }
            // Only the body returns; the watcher ends by throwing.
            let result = try await group.next()
            group.cancelAll()
            guard let result = result ?? nil else { throw CancellationError() }
            return result
        }
    }


    /// - Returns: `true` when the run ended (its final state is committed), `false` when a retry is scheduled.
    private func execute(_ run: ClaimedRun, writer: StepWriter, logger: Logger) async throws -> Bool {
        let events = EventSequencer(run: run)
        let input: RunInput
        let pipeline: [any AgentStage]
        do {
            input = try JSONText.decode(RunInput.self, from: run.input)
            guard let stages = stages.stages(for: run.pipeline, parameters: input.parameters) else {
                throw StageFailure("unknown pipeline \(run.pipeline)")
            }
            pipeline = stages
        } catch {
            try await fail(run, events: events, writer: writer, code: "invalid_run", message: "\(error)", logger: logger)
            return true
        }

        let names = pipeline.map(\.name)
        // Each step's write goes with the next one: `agent_started` with the first stage's start, a stage's completion
        // and checkpoint with the next stage's start, the last completion with the final state. The writer merges
        // more while a commit is in flight; a crash in between only re-runs a stage whose checkpoint was not yet
        // committed.
        var carried = [events.next(.agentStarted, agent: nil, data: AgentStarted(pipeline: run.pipeline, stages: names, attempt: run.attempt))]
        var carriedCheckpoint: StageRecord?
        var outputs = Dictionary(run.finishedStages.map { (names[safe: $0.index] ?? $0.name, $0.output) }, uniquingKeysWith: { $1 })
        let finished = Set(run.finishedStages.map(\.index))
        for (index, stage) in pipeline.enumerated() where !finished.contains(index) {
            let stageLogger = logger.with(LogKey.stage, "\(stage.name)")
            let started = SubAgentUpdate(stageIndex: index, stageCount: pipeline.count, status: "started")
            carried.append(events.next(.subAgentUpdate, agent: stage.name, rawData: started.json))
            try writer.append(
                RunWrite(
                    runID: run.id, tenantID: run.tenantID, attempt: run.attempt, events: carried, currentStage: stage.name,
                    checkpoint: carriedCheckpoint
                )
            )
            carried = []
            carriedCheckpoint = nil
            let startedAt = Date()
            let result: StageResult
            do {
                let emitter = StageEmitter(agent: stage.name) { type, data in
                    try writer.append(
                        RunWrite(
                            runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                            events: [events.next(type, agent: stage.name, rawData: data)]
                        )
                    )
                }
                result = try await stage.run(StageInput(run: run, input: input, outputs: outputs, index: index, emitter: emitter))
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as LeaseLost {
                throw error  // an emitted event's commit found the run taken over
            } catch let error as CancelRequested {
                throw error
            } catch {
                let retryable = (error as? StageFailure)?.isRetryable ?? true
                let maxRetries = PipelineKind(rawValue: run.pipeline)?.maxRetries ?? 0
                if retryable && run.retries < maxRetries {
                    try await scheduleRetry(run, events: events, writer: writer, stage: stage.name, error: "\(error)", logger: stageLogger)
                    return false
                } else {
                    stageLogger.warning("Stage failed", metadata: [LogKey.error: "\(error)"])
                    let suffix = retryable ? " (after \(run.retries) retries)" : ""
                    try await fail(run, events: events, writer: writer, code: "stage_failed", message: "\(stage.name): \(error)\(suffix)", logger: stageLogger)
                    return true
                }
            }
            let finishedAt = Date()
            NetraMetric.timer(NetraMetric.stageDuration, [("stage", stage.name)]).record(finishedAt.timeIntervalSince(startedAt))
            var completed = SubAgentUpdate(stageIndex: index, stageCount: pipeline.count, status: "completed")
            completed.summary = result.summary
            completed.durationMilliseconds = Int((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
            carried = [events.next(.subAgentUpdate, agent: stage.name, rawData: completed.json)]
            carriedCheckpoint = StageRecord(
                index: index, name: stage.name, attempt: run.attempt, output: result.output, startedAt: startedAt, finishedAt: finishedAt
            )
            outputs[stage.name] = result.output
        }

        let result = names.last.flatMap { outputs[$0] } ?? "null"
        carried.append(events.next(.agentCompleted, agent: nil, rawData: #"{"status":"succeeded","result":"# + result + "}"))
        try await writer.finish(
            RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: run.attempt, events: carried, checkpoint: carriedCheckpoint,
                outcome: .succeeded(result: result)
            )
        )
        logger.debug("Run succeeded")
        NetraMetric.counter(NetraMetric.runsFinished, [("pipeline", run.pipeline), ("status", "succeeded")]).increment()
        return true
    }

    /// Puts the run back in the queue after a backoff: committed as `queued` with `not_before`, then scheduled in the
    /// delayed set. Should the worker die in between, the reconciler enqueues it once it is due.
    private func scheduleRetry(
        _ run: ClaimedRun, events: EventSequencer, writer: StepWriter, stage: String, error: String, logger: Logger
    ) async throws {
        let ceiling = min(retryBaseDelay * (1 << min(run.retries, 20)), maxRetryDelay)
        let delay = Duration.milliseconds(Int64.random(in: 0...max(ceiling.wholeMilliseconds, 1)))
        let due = Date().addingTimeInterval(Double(delay.wholeMilliseconds) / 1000)
        let notice = RetryNotice(stage: stage, retry: run.retries + 1, maxRetries: PipelineKind(rawValue: run.pipeline)?.maxRetries ?? 0,
                                 delayMilliseconds: delay.wholeMilliseconds, error: error)
        let errorJSON = ServerMessage.data(ErrorData(code: "stage_failed", message: "\(stage): \(error)"))
        try await writer.finish(
            RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                events: [events.next(.agentLog, agent: stage, data: notice)],
                outcome: .retry(notBefore: due, error: errorJSON)
            )
        )
        do {
            // The run keeps its tenant slot while it waits: the retry enters the recovery stream, not the backlog.
            try await delayed.schedule(RunStreamEntry(runID: run.id, tenantID: run.tenantID, attempt: run.attempt), at: due)
        } catch {
            logger.warning("Scheduling the retry failed; the reconciler will enqueue it when due", metadata: [LogKey.error: "\(error)"])
        }
        logger.info("Stage failed; retrying", metadata: ["retry": "\(notice.retry)", "delay_ms": "\(notice.delayMilliseconds)"])
    }

    /// Ends the run as failed, with an `error` event and the closing `agent_completed`.
    private func fail(_ run: ClaimedRun, events: EventSequencer, writer: StepWriter, code: String, message: String, logger: Logger) async throws {
        let error = ServerMessage.data(ErrorData(code: code, message: message))
        try await writer.finish(
            RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: run.attempt,
                events: [
                    events.next(.error, agent: nil, rawData: error),
                    events.next(.agentCompleted, agent: nil, rawData: #"{"status":"failed","error":"# + error + "}"),
                ],
                outcome: .failed(error: error)
            )
        )
        NetraMetric.counter(NetraMetric.runsFinished, [("pipeline", run.pipeline), ("status", "failed")]).increment()
    }
}

/// Thrown inside a run when a client asked to cancel it.
struct CancelRequested: Error {}

/// Hands out consecutive `seq` numbers for one claimed run (shared by the runner and the stage emitting events).
final class EventSequencer: Sendable {
    let run: ClaimedRun
    private let nextSeq: Mutex<Int>

    init(run: ClaimedRun) {
        self.run = run
        self.nextSeq = Mutex(run.nextSeq)
    }

    func next(_ type: EventType, agent: String?, data: some Encodable) -> RunEvent {
        next(type, agent: agent, rawData: ServerMessage.data(data))
    }

    func next(_ type: EventType, agent: String?, rawData: String) -> RunEvent {
        let seq = nextSeq.withLock { seq in
            defer { seq += 1 }
            return seq
        }
        return RunEvent(runID: run.id, threadID: run.threadID, seq: seq, type: type, agentName: agent, data: rawData, timestamp: Date())
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

    /// The text `JSONText.encode` writes (sorted keys), written out: two of these per stage went through
    /// `JSONEncoder`, 5% of a worker's CPU in the throughput benchmark (`perf`).
    var json: String {
        var text = "{"
        if let durationMilliseconds { text += #""duration_ms":\#(durationMilliseconds),"# }
        text += #""stage_count":\#(stageCount),"stage_index":\#(stageIndex),"status":"# + JSONText.quoted(status)
        if let summary { text += #","summary":"# + JSONText.quoted(summary) }
        return text + "}"
    }
}

/// `agent_log` data announcing a retry.
struct RetryNotice: Encodable {
    let stage: String
    let retry: Int
    let maxRetries: Int
    let delayMilliseconds: Int64
    let error: String
    enum CodingKeys: String, CodingKey {
        case stage, retry, error
        case maxRetries = "max_retries"
        case delayMilliseconds = "delay_ms"
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
