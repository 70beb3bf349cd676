import Foundation
import Logging
import PostgresNIO

/// A run to create.
public struct NewRun: Sendable {
    public var tenantID: TenantID
    public var threadID: ThreadID?
    public var userID: UserID?
    public var pipeline: String
    /// JSON text of the run input.
    public var input: String
    public var stageCount: Int
    /// The user's message, stored in the thread's history when the run has a thread.
    public var message: String?
    /// The client's `Idempotency-Key`: the same key within 24 hours returns the same run.
    public var idempotencyKey: String?
    /// What to do when the thread already has an active run.
    public var multitask: MultitaskStrategy = .enqueue
    public var priority: RunPriority = .normal
    /// A delayed run's time (`run_at`, `delay_seconds`); it waits in the scheduled set until then.
    public var notBefore: Date?
    /// Where the scheduler POSTs the run's summary when it ends.
    public var webhookURL: String?

    public init(
        tenantID: TenantID, threadID: ThreadID?, userID: UserID?, pipeline: String, input: String, stageCount: Int, message: String?,
        idempotencyKey: String? = nil
    ) {
        self.idempotencyKey = idempotencyKey
        self.tenantID = tenantID
        self.threadID = threadID
        self.userID = userID
        self.pipeline = pipeline
        self.input = input
        self.stageCount = stageCount
        self.message = message
    }
}

/// What a new run on a thread does when the thread already has an active (queued or running) run.
public enum MultitaskStrategy: String, Codable, Sendable, StringEnum {
    /// Refuse the new run.
    case reject
    /// Queue the new run behind the active ones (the default).
    case enqueue
    /// Cancel the active runs; the new one starts when they have stopped.
    case interrupt
}

/// Thrown by `create` when the thread is busy and the strategy is `reject`.
public struct ThreadBusy: Error {
    public let activeRun: RunID
}

/// Runs, their checkpoints and their event log. Every query names the tenant or the owning attempt.
public struct RunStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    static let runColumns = """
        id, tenant_id, thread_id, pipeline, status, current_stage, stage_count, attempt,
        created_at, started_at, finished_at, error::text, result::text, priority::integer,
        CASE WHEN status = 'queued' AND not_before > now() AND not_before < 'infinity' THEN not_before END
        """

    /// Inserts a queued run (and the user's message, when the run belongs to a thread) in one transaction.
    public func create(_ new: NewRun, logger: Logger) async throws -> RunRecord {
        try await createOrReplay(new, logger: logger).run
    }


    /// Inserts a queued run, unless the tenant used the same idempotency key in the last 24 hours: then the earlier
    /// run is returned with `created == false`. Concurrent requests with one key get one run.
    ///
    /// A run on a thread that has an active run waits behind it (`blocked`, `not_before = infinity`, not to be
    /// enqueued now) unless the strategy is `reject`, which throws `ThreadBusy`. The thread row is locked, so two
    /// concurrent requests cannot both find the thread idle.
    public func createOrReplay(_ new: NewRun, logger: Logger) async throws -> (run: RunRecord, created: Bool, blocked: Bool) {
        let id = RunID()
        return try await client.transaction(logger: logger) { connection in
            var blocked = false
            if let thread = new.threadID {
                try await connection.query(
                    "SELECT id FROM threads WHERE id = \(thread.uuid) AND tenant_id = \(new.tenantID.uuid) FOR UPDATE", logger: logger
                )
                let active = try await connection.query(
                    """
                    SELECT id FROM runs WHERE thread_id = \(thread.uuid) AND tenant_id = \(new.tenantID.uuid)
                      AND status IN ('queued', 'running') AND (\(new.idempotencyKey)::text IS NULL OR idempotency_key IS DISTINCT FROM \(new.idempotencyKey))
                    ORDER BY created_at LIMIT 1
                    """,
                    logger: logger
                )
                for try await activeID in active.decode(UUID.self) {
                    if new.multitask == .reject { throw ThreadBusy(activeRun: RunID(uuid: activeID)) }
                    blocked = true
                }
            }
            if let key = new.idempotencyKey {
                // A key older than 24 hours is free again.
                try await connection.query(
                    """
                    UPDATE runs SET idempotency_key = NULL
                    WHERE tenant_id = \(new.tenantID.uuid) AND idempotency_key = \(key) AND created_at < now() - interval '24 hours'
                    """,
                    logger: logger
                )
            }
            let rows = try await connection.query(
                """
                INSERT INTO runs (id, tenant_id, thread_id, pipeline, input, status, stage_count, idempotency_key, not_before, priority,
                                  enqueued_at, webhook_url)
                VALUES (\(id.uuid), \(new.tenantID.uuid), \(new.threadID?.uuid), \(new.pipeline), \(new.input)::jsonb, 'queued',
                        \(new.stageCount), \(new.idempotencyKey),
                        CASE WHEN \(blocked) THEN 'infinity'::timestamptz ELSE \(new.notBefore)::timestamptz END,
                        \(new.priority.rank), COALESCE(\(new.notBefore)::timestamptz, now()), \(new.webhookURL))
                ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING \(unescaped: Self.runColumns)
                """,
                logger: logger
            )
            guard let run = try await Self.records(rows).first else {
                let existing = try await connection.query(
                    """
                    SELECT \(unescaped: Self.runColumns) FROM runs
                    WHERE tenant_id = \(new.tenantID.uuid) AND idempotency_key = \(new.idempotencyKey)
                    """,
                    logger: logger
                )
                guard let run = try await Self.records(existing).first else { throw PostgresStoreError.missingRow }
                return (run, false, false)
            }
            if let thread = new.threadID, let message = new.message {
                try await connection.query(
                    """
                    INSERT INTO messages (id, tenant_id, thread_id, run_id, role, content)
                    VALUES (\(UUID()), \(new.tenantID.uuid), \(thread.uuid), \(id.uuid), 'user', \(message))
                    """,
                    logger: logger
                )
                try await connection.query(
                    "UPDATE threads SET updated_at = now() WHERE id = \(thread.uuid) AND tenant_id = \(new.tenantID.uuid)",
                    logger: logger
                )
            }
            return (run, true, blocked)
        }
    }

    /// The thread's active (queued or running) runs, oldest first.
    public func activeRuns(thread: ThreadID, tenant: TenantID, logger: Logger) async throws -> [RunID] {
        let rows = try await client.query(
            """
            SELECT id FROM runs WHERE thread_id = \(thread.uuid) AND tenant_id = \(tenant.uuid) AND status IN ('queued', 'running')
            ORDER BY created_at, id
            """,
            logger: logger
        )
        var runs: [RunID] = []
        for try await id in rows.decode(UUID.self) { runs.append(RunID(uuid: id)) }
        return runs
    }

    /// Unblocks the oldest waiting run of each thread (or of `thread`) that has no other active run.
    ///
    /// - Returns: The entries to enqueue. Called when a run ends, and by the reconciler as a safety net.
    public func releaseWaiting(thread: ThreadID? = nil, logger: Logger) async throws -> [RunStreamEntry] {
        try await client.transaction(logger: logger) { connection in
            if let thread {
                // Serialises with `createOrReplay`, which holds this lock while it decides whether a new run waits:
                // otherwise a run could be inserted as waiting just after this release looked for it.
                try await connection.query("SELECT id FROM threads WHERE id = \(thread.uuid) FOR UPDATE", logger: logger)
            }
            let rows = try await connection.query(
                """
                UPDATE runs r SET not_before = NULL, enqueued_at = now(), updated_at = now()
                WHERE r.id IN (
                    SELECT DISTINCT ON (b.thread_id) b.id FROM runs b
                    WHERE b.status = 'queued' AND b.not_before = 'infinity'
                      AND (\(thread?.uuid)::uuid IS NULL OR b.thread_id = \(thread?.uuid))
                      AND NOT EXISTS (
                          SELECT 1 FROM runs a WHERE a.thread_id = b.thread_id AND a.status IN ('queued', 'running')
                            AND a.not_before IS DISTINCT FROM 'infinity')
                    ORDER BY b.thread_id, b.created_at, b.id)
                RETURNING r.id, r.tenant_id, r.attempt, r.priority::integer
                """,
                logger: logger
            )
            return try await Self.entries(rows)
        }
    }

    /// The run, if it belongs to `tenant`.
    public func run(_ id: RunID, tenant: TenantID, logger: Logger) async throws -> RunRecord? {
        var run: RunRecord?
        for try await row in try await client.execute(RunStatement(id: id.uuid, tenant: tenant.uuid), logger: logger) {
            run = Self.record(row)
        }
        return run
    }

    /// The tenant's runs, newest first, optionally only those in `status`; `before` continues after a run of the
    /// previous page.
    public func history(tenant: TenantID, status: RunStatus? = nil, limit: Int, before: RunID?, logger: Logger) async throws -> [RunRecord] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.runColumns) FROM runs
            WHERE tenant_id = \(tenant.uuid) AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
              AND (\(before?.uuid)::uuid IS NULL OR (created_at, id) <
                   (SELECT created_at, id FROM runs WHERE id = \(before?.uuid) AND tenant_id = \(tenant.uuid)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        return try await Self.records(rows)
    }

    /// The finished stages of a run of `tenant`, in order.
    public func stages(of run: RunID, tenant: TenantID, logger: Logger) async throws -> [StageRecord] {
        let rows = try await client.query(
            """
            SELECT s.stage_index, s.stage, s.attempt, s.output::text, s.started_at, s.finished_at
            FROM run_stages s JOIN runs r ON r.id = s.run_id
            WHERE s.run_id = \(run.uuid) AND r.tenant_id = \(tenant.uuid) ORDER BY s.stage_index
            """,
            logger: logger
        )
        return try await Self.stageRecords(rows)
    }

    /// The run's events after `seq`, in order.
    public func events(of run: RunID, tenant: TenantID, after seq: Int, limit: Int = 10_000, logger: Logger) async throws -> [RunEvent] {
        let rows = try await client.execute(EventsStatement(run: run.uuid, tenant: tenant.uuid, after: seq, limit: limit), logger: logger)
        var events: [RunEvent] = []
        for try await (seq, type, agent, data, created, thread) in rows {
            guard let type = EventType(rawValue: type) else { continue }
            events.append(
                RunEvent(runID: run, threadID: thread.map(ThreadID.init), seq: seq, type: type, agentName: agent, data: data, timestamp: created)
            )
        }
        return events
    }

    /// A row of `runColumns`.
    typealias RunRow = (UUID, UUID, UUID?, String, String, String?, Int, Int, Date, Date?, Date?, String?, String?, Int, Date?)

    static func records(_ rows: PostgresRowSequence) async throws -> [RunRecord] {
        var runs: [RunRecord] = []
        for try await row in rows.decode(RunRow.self) { runs.append(record(row)) }
        return runs
    }

    static func record(_ row: RunRow) -> RunRecord {
        let (id, tenant, thread, pipeline, status, stage, stageCount, attempt, created, started, finished, error, result, priority, due) = row
        var run = RunRecord(
            id: RunID(uuid: id), tenantID: TenantID(uuid: tenant), threadID: thread.map(ThreadID.init), pipeline: pipeline,
            status: RunStatus(rawValue: status) ?? .failed, currentStage: stage, stageCount: stageCount, attempt: attempt,
            createdAt: created, startedAt: started, finishedAt: finished, error: error, result: result
        )
        run.priority = RunPriority(rank: priority) ?? .normal
        run.scheduledFor = due
        return run
    }

    /// Decodes `id, tenant_id, attempt, priority::integer` rows into stream entries.
    static func entries(_ rows: PostgresRowSequence) async throws -> [RunStreamEntry] {
        var entries: [RunStreamEntry] = []
        for try await (id, tenant, attempt, priority) in rows.decode((UUID, UUID, Int, Int).self) {
            entries.append(
                RunStreamEntry(runID: RunID(uuid: id), tenantID: TenantID(uuid: tenant), attempt: attempt, priority: RunPriority(rank: priority) ?? .normal)
            )
        }
        return entries
    }

    static func stageRecords(_ rows: PostgresRowSequence) async throws -> [StageRecord] {
        var stages: [StageRecord] = []
        for try await (index, name, attempt, output, started, finished) in rows.decode((Int, String, Int, String, Date, Date).self) {
            stages.append(StageRecord(index: index, name: name, attempt: attempt, output: output, startedAt: started, finishedAt: finished))
        }
        return stages
    }
}

extension RunStore {
    /// Marks a still-queued run as failed because it could not be handed to the workers.
    public func abandon(_ id: RunID, tenant: TenantID, reason: String, logger: Logger) async throws {
        let error = #"{"code":"# + JSONText.quoted(reason) + #","message":"the run could not be enqueued"}"#
        try await client.query(
            """
            UPDATE runs SET status = 'failed', error = \(error)::jsonb, finished_at = now(), updated_at = now()
            WHERE id = \(id.uuid) AND tenant_id = \(tenant.uuid) AND status = 'queued'
            """,
            logger: logger
        )
    }
}

/// A tenant's run by id, prepared once per connection: every status request and every WebSocket `subscribe_run`
/// looks a run up, and parsing it each time showed in `pg_stat_statements` at 600 watched runs a second.
struct RunStatement: PostgresPreparedStatement {
    typealias Row = RunStore.RunRow

    static let sql = "SELECT \(RunStore.runColumns) FROM runs WHERE id = $1 AND tenant_id = $2"

    var id: UUID, tenant: UUID

    func makeBindings() throws -> PostgresBindings { PostgresBindings(id, tenant) }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A run's events after a `seq`, in order, prepared once per connection: the replay of every `subscribe_run` and of
/// every events request (see `RunStatement`).
struct EventsStatement: PostgresPreparedStatement {
    typealias Row = (Int, String, String?, String, Date, UUID?)

    static let sql = """
        SELECT e.seq, e.type, e.agent_name, e.data::text, e.created_at, r.thread_id
        FROM run_events e JOIN runs r ON r.id = e.run_id
        WHERE e.run_id = $1 AND e.tenant_id = $2 AND e.seq > $3
        ORDER BY e.seq LIMIT $4
        """

    var run: UUID, tenant: UUID, after: Int, limit: Int

    func makeBindings() throws -> PostgresBindings { PostgresBindings(run, tenant, after, limit) }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
