import Foundation
import HTTPTypes
import Logging
import Metrics
import Shared

/// Validates and creates runs: the row first, then the stream entry. Shared by REST and the WebSocket.
struct RunSubmitter: Sendable {
    let runs: RunStore
    let threads: ThreadStore
    let redis: RedisClient
    let admission: Admission
    var keys: RedisKeys { admission.keys }
    /// Group commit of concurrent submissions: runs without a thread or idempotency key share one INSERT, and
    /// entries share one XADD pipeline.
    let batching: SubmissionBatching
    /// The tenant's run-submission rate limit.
    let access: AccessGuard
    /// Which webhook URLs runs may carry.
    let webhooks: WebhookPolicy

    /// What a client asks for.
    struct Request: Decodable, Sendable {
        var message: String
        var threadID: ThreadID?
        var pipeline: String?
        var parameters: RunParameters?
        /// What happens when the thread already has an active run (default `enqueue`).
        var multitaskStrategy: MultitaskStrategy?
        /// Where the run stands in the queue (default `normal`).
        var priority: RunPriority?
        /// A delayed run: when it may start (RFC 3339), or after how many seconds; at most one of the two.
        var runAt: String?
        var delaySeconds: Double?
        /// Where to POST the run's summary when it ends (see `WebhookDelivery` in the scheduler).
        var webhookURL: String?

        enum CodingKeys: String, CodingKey {
            case message
            case threadID = "thread_id"
            case pipeline, parameters
            case multitaskStrategy = "multitask_strategy"
            case priority
            case runAt = "run_at"
            case delaySeconds = "delay_seconds"
            case webhookURL = "webhook_url"
        }
    }

    static let maxMessageLength = 32_000
    /// How far ahead a run may be scheduled.
    static let maxDelay: TimeInterval = 366 * 86_400

    /// The time a delayed run may start, or `nil` to start now (a time already past starts now).
    static func notBefore(_ request: Request, now: Date = Date()) throws -> Date? {
        let due: Date
        switch (request.runAt, request.delaySeconds) {
        case (nil, nil): return nil
        case (.some, .some): throw NetraError.invalid("give run_at or delay_seconds, not both")
        case (let text?, nil):
            guard let date = RFC3339.date(text) else { throw NetraError.invalid("run_at must be an RFC 3339 time such as 2026-12-01T09:00:00Z") }
            due = date
        case (nil, let seconds?):
            guard seconds.isFinite, seconds >= 0 else { throw NetraError.invalid("delay_seconds must be a number of seconds, 0 or more") }
            due = now.addingTimeInterval(seconds)
        }
        guard due.timeIntervalSince(now) <= maxDelay else { throw NetraError.invalid("a run can be scheduled at most 366 days ahead") }
        return due > now ? due : nil
    }

    /// Checks a run's message, pipeline and parameters (for a run or a schedule); returns the trimmed message, the
    /// pipeline, the input's JSON text and the stage names.
    static func validatedInput(
        message text: String, pipeline name: String?, parameters: RunParameters?
    ) throws -> (message: String, pipeline: PipelineKind, input: String, stages: [String]) {
        let message = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty else { throw NetraError.invalid("message must not be empty") }
        guard !message.utf8.contains(0) else { throw NetraError.invalid("message must not contain NUL characters") }
        guard message.count <= Self.maxMessageLength else { throw NetraError.invalid("message is longer than \(Self.maxMessageLength) characters") }
        let pipelineName = name ?? PipelineKind.optimize.rawValue
        guard let pipeline = PipelineKind(rawValue: pipelineName) else {
            throw NetraError.invalid("unknown pipeline '\(pipelineName)'; known: \(PipelineKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let parameters = parameters ?? RunParameters()
        switch pipeline.stageNames(for: parameters) {
        case .success(let stages):
            return (message, pipeline, try JSONText.encode(RunInput(message: message, parameters: parameters)), stages)
        case .failure(let error):
            throw NetraError.invalid(error.message)
        }
    }

    /// Validates the request and inserts the queued run. Call `enqueue` afterwards.
    func create(_ request: Request, identity: Identity, logger: Logger) async throws -> RunRecord {
        try await create(request, identity: identity, idempotencyKey: nil, logger: logger).run
    }

    var control: RunControl { RunControl(runs: runs, redis: redis, admission: admission) }

    /// Validates the request and inserts the queued run, or returns the run created earlier with the same
    /// idempotency key (`created == false`; do not enqueue it again).
    func create(
        _ request: Request, identity: Identity, idempotencyKey: String?, logger: Logger
    ) async throws -> (run: RunRecord, created: Bool, blocked: Bool) {
        if let key = idempotencyKey {
            guard (1...255).contains(key.utf8.count) else { throw NetraError.invalid("Idempotency-Key must be 1 to 255 bytes") }
        }
        try await access.admitRun(identity, logger: logger)
        let (message, pipeline, input, stages) = try Self.validatedInput(message: request.message, pipeline: request.pipeline, parameters: request.parameters)
        let notBefore = try Self.notBefore(request)
        var webhook: String?
        if let text = request.webhookURL {
            do {
                webhook = try webhooks.validate(text).absoluteString
            } catch {
                throw NetraError.invalid(error.description)
            }
        }
        if let thread = request.threadID {
            guard try await threads.thread(thread, tenant: identity.tenantID, logger: logger) != nil else {
                throw NetraError.threadNotFound
            }
        }
        let strategy = request.multitaskStrategy ?? .enqueue
        if strategy == .interrupt, let thread = request.threadID {
            for active in try await runs.activeRuns(thread: thread, tenant: identity.tenantID, logger: logger) {
                _ = try await control.cancel(active, identity: identity, logger: logger)
            }
        }
        var new = NewRun(
            tenantID: identity.tenantID, threadID: request.threadID, userID: identity.userID, pipeline: pipeline.rawValue,
            input: input, stageCount: stages.count, message: message, idempotencyKey: idempotencyKey
        )
        // After interrupting, the new run waits for the cancelled ones to stop, like `enqueue`.
        new.multitask = strategy == .reject ? .reject : .enqueue
        new.priority = request.priority ?? .normal
        new.notBefore = notBefore
        new.webhookURL = webhook
        do {
            if new.threadID == nil && new.idempotencyKey == nil && new.notBefore == nil && new.webhookURL == nil {
                return (try await batching.inserts.submit(new), true, false)
            }
            return try await runs.createOrReplay(new, logger: logger)
        } catch let busy as ThreadBusy {
            throw NetraError(.threadBusy, .conflict, "the thread has an active run (\(busy.activeRun)); multitask_strategy is reject")
        }
    }

    /// Hands the run to the workers: into its priority's stream, or its tenant's backlog when the tenant is at its
    /// in-flight limit.
    ///
    /// The run is already durable in PostgreSQL (a transactional outbox): if Redis does not take the entry, the
    /// scheduler's reconciler enqueues it later, so the request still succeeds. For the same reason the request does
    /// not wait for a run that starts now to be admitted: its entry is queued for the next admission batch (in
    /// submission order) and the client is answered meanwhile, as a `202` means "durably queued". That took one
    /// Redis round trip and a batch's wait out of every submission's answer.
    func enqueue(_ run: RunRecord, logger: Logger) async {
        NetraMetric.counter(NetraMetric.runsSubmitted, [("pipeline", run.pipeline)]).increment()
        guard let due = run.scheduledFor else {
            batching.entries.post(RunStreamEntry(run)) { result in
                if case .failure(let error) = result { Self.enqueueFailed(run, error, logger: logger) }
            }
            return
        }
        do {
            // A delayed run waits in the scheduled set; the scheduler admits it when due.
            try await admission.schedule([(RunStreamEntry(run), due)])
        } catch {
            Self.enqueueFailed(run, error, logger: logger)
        }
    }

    private static func enqueueFailed(_ run: RunRecord, _ error: any Error, logger: Logger) {
        logger.warning("Enqueue failed; the reconciler will enqueue the run", metadata: [LogKey.runID: "\(run.id)", LogKey.error: "\(error)"])
    }
}

/// The gateway's batchers for submissions (see `Batcher`): a batch that fails is served item by item, so one bad
/// run fails only its own request.
struct SubmissionBatching: Sendable {
    let inserts: Batcher<NewRun, RunRecord>
    let entries: Batcher<RunStreamEntry, Void>

    init(runs: RunStore, queue: RunQueue, logger: Logger) {
        inserts = Batcher(maxBatch: 256) { batch in
            await Batcher.serveEachAloneOnFailure(batch, logger: logger, "Inserting a batch of runs failed") {
                try await runs.createSimple($0, logger: logger).map { .success($0) }
            }
        }
        // Admission is one script call per run, pipelined.
        entries = Batcher(maxBatch: 512) { batch in
            do {
                try await queue.enqueue(batch)
                return batch.map { _ in .success(()) }
            } catch {
                return batch.map { _ in .failure(error) }
            }
        }
    }
}
