import Foundation
import Logging
import PostgresNIO

// Set-based forms of `claim` and `commit` for many runs at once: the same conditions and writes, one statement for
// the whole batch instead of a transaction per run. Workers use them through a `Batcher` (group commit).

extension RunStore {
    /// Claims delivered runs; one result per entry, `nil` where the run is finished, owned by another worker, or
    /// claimed by an earlier entry of the same batch (a duplicate delivery).
    public func claim(_ entries: [RunStreamEntry], worker: String, lease: Duration, logger: Logger) async throws -> [ClaimedRun?] {
        guard !entries.isEmpty else { return [] }
        let leaseSeconds = Double(lease.wholeMilliseconds) / 1000
        // Autocommitted: once the claim is committed this attempt owns the run and nobody else writes its events or
        // checkpoints, so reading them afterwards, in statements of their own, sees everything earlier owners wrote.
        let rows = try await client.execute(
            ClaimStatement(
                worker: worker, leaseSeconds: leaseSeconds, ids: entries.map(\.runID.uuid), tenants: entries.map(\.tenantID.uuid),
                attempts: entries.map(\.attempt)
            ),
            logger: logger
        )
        var claimed: [UUID: (thread: UUID?, pipeline: String, input: String, attempt: Int, retries: Int)] = [:]
        for try await (id, thread, pipeline, input, attempt, retries) in rows {
            claimed[id] = (thread, pipeline, input, attempt, retries)
        }
        guard !claimed.isEmpty else { return entries.map { _ in nil } }
        // Events and checkpoints are written only by an attempt that owns the run (or when it ends), so a run
        // claimed for the first time (attempt 1) has none: only resumed runs need their last seq and stages read.
        let resumed = claimed.filter { $0.value.attempt > 1 }.map(\.key)
        var lastSeqs: [UUID: Int] = [:]
        var stages: [UUID: [StageRecord]] = [:]
        if !resumed.isEmpty {
            let seqRows = try await client.query(
                "SELECT run_id, max(seq) FROM run_events WHERE run_id = ANY(\(resumed)::uuid[]) GROUP BY run_id", logger: logger
            )
            for try await (id, seq) in seqRows.decode((UUID, Int).self) { lastSeqs[id] = seq }
            let stageRows = try await client.query(
                """
                SELECT run_id, stage_index, stage, attempt, output::text, started_at, finished_at
                FROM run_stages WHERE run_id = ANY(\(resumed)::uuid[]) ORDER BY run_id, stage_index
                """,
                logger: logger
            )
            for try await (id, index, name, attempt, output, startedAt, finishedAt) in stageRows.decode((UUID, Int, String, Int, String, Date, Date).self) {
                stages[id, default: []].append(
                    StageRecord(index: index, name: name, attempt: attempt, output: output, startedAt: startedAt, finishedAt: finishedAt)
                )
            }
        }
        return entries.map { entry in
            guard let row = claimed.removeValue(forKey: entry.runID.uuid) else { return nil }
            return ClaimedRun(
                id: entry.runID, tenantID: entry.tenantID, threadID: row.thread.map(ThreadID.init), pipeline: row.pipeline,
                input: row.input, attempt: row.attempt, finishedStages: stages[entry.runID.uuid] ?? [],
                nextSeq: (lastSeqs[entry.runID.uuid] ?? 0) + 1, retries: row.retries
            )
        }
    }

    /// Commits steps of many runs in one statement: each write's state change, checkpoint and events, all or nothing
    /// per write, and only for writes whose attempt still owns its run.
    ///
    /// - Returns: One result per write: whether a cancellation was requested, or `LeaseLost` (nothing written for it).
    /// - Throws: When the statement fails; then nothing of the batch is written.
    public func commit(_ writes: [RunWrite], logger: Logger) async throws -> [Result<Bool, LeaseLost>] {
        guard !writes.isEmpty else { return [] }
        precondition(Set(writes.map(\.runID)).count == writes.count, "one write per run in a batch")
        var kinds: [String] = []
        var stageNames: [String] = []
        var payloads: [String] = []
        var notBefore: [Date] = []
        let epoch = Date(timeIntervalSince1970: 0)
        for write in writes {
            stageNames.append(write.currentStage ?? "")
            switch write.outcome {
            case nil: kinds.append("step"); payloads.append(""); notBefore.append(epoch)
            case .succeeded(let result): kinds.append("succeeded"); payloads.append(result); notBefore.append(epoch)
            case .failed(let error): kinds.append("failed"); payloads.append(error); notBefore.append(epoch)
            case .cancelled: kinds.append("cancelled"); payloads.append(""); notBefore.append(epoch)
            case .retry(let due, let error): kinds.append("retry"); payloads.append(error); notBefore.append(due)
            }
        }
        let checkpoints = writes.flatMap { write in write.checkpoints.map { (write, $0) } }
        let events = writes.flatMap { write in write.events.map { (write.tenantID, $0) } }
        let statement = CommitStatement(
            ids: writes.map(\.runID.uuid), attempts: writes.map(\.attempt), kinds: kinds, stages: stageNames, payloads: payloads,
            notBefore: notBefore,
            checkpointRuns: checkpoints.map(\.0.runID.uuid), checkpointIndexes: checkpoints.map(\.1.index),
            checkpointNames: checkpoints.map(\.1.name), checkpointAttempts: checkpoints.map(\.0.attempt),
            checkpointOutputs: checkpoints.map(\.1.output), checkpointStarts: checkpoints.map(\.1.startedAt),
            checkpointEnds: checkpoints.map(\.1.finishedAt),
            eventRuns: events.map(\.1.runID.uuid), eventSeqs: events.map(\.1.seq), eventTenants: events.map(\.0.uuid),
            eventTypes: events.map(\.1.type.rawValue), eventAgents: events.map { $0.1.agentName ?? "" }, eventData: events.map(\.1.data),
            eventTimes: events.map(\.1.timestamp)
        )
        let rows = try await client.execute(statement, logger: logger)
        var fenced: [UUID: Bool] = [:]
        for try await (id, cancelRequested) in rows { fenced[id] = cancelRequested }
        return writes.map { write in
            fenced[write.runID.uuid].map { .success($0) } ?? .failure(LeaseLost(runID: write.runID, attempt: write.attempt))
        }
    }
}

extension RunStore {
    /// Inserts queued runs that have no thread and no idempotency key (nothing to lock or look up first) in one
    /// statement; returns their records in order. Runs with either go through `createOrReplay`.
    public func createSimple(_ runs: [NewRun], logger: Logger) async throws -> [RunRecord] {
        guard !runs.isEmpty else { return [] }
        precondition(runs.allSatisfy { $0.threadID == nil && $0.idempotencyKey == nil }, "only runs without thread or key")
        let ids = runs.map { _ in UUID() }
        let rows = try await client.execute(
            InsertRunsStatement(
                ids: ids, tenants: runs.map(\.tenantID.uuid), pipelines: runs.map(\.pipeline), inputs: runs.map(\.input),
                stageCounts: runs.map(\.stageCount), priorities: runs.map(\.priority.rank)
            ),
            logger: logger
        )
        var records: [UUID: RunRecord] = [:]
        for try await row in rows { records[row.0] = Self.record(row) }
        return try ids.map { id in
            guard let record = records[id] else { throw PostgresStoreError.missingRow }
            return record
        }
    }
}

/// The batched step commit, prepared once per connection: parsing and planning it on every batch cost PostgreSQL
/// more than a tenth of its time in the throughput benchmark (`perf`). Each write's state change, and its
/// checkpoints and events only for the writes whose attempt still owns the run (`fenced`).
struct CommitStatement: PostgresPreparedStatement {
    typealias Row = (UUID, Bool)

    static let sql = """
        WITH w AS (
            SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                AS w(id, attempt, kind, stage, payload, not_before)
        ), fenced AS (
            UPDATE runs r SET
                status = CASE w.kind WHEN 'step' THEN r.status WHEN 'retry' THEN 'queued' ELSE w.kind END,
                current_stage = CASE w.kind WHEN 'step' THEN COALESCE(NULLIF(w.stage, ''), r.current_stage)
                                            WHEN 'succeeded' THEN NULL WHEN 'retry' THEN NULL ELSE r.current_stage END,
                result = CASE WHEN w.kind = 'succeeded' THEN w.payload::jsonb ELSE r.result END,
                error = CASE w.kind WHEN 'failed' THEN w.payload::jsonb WHEN 'retry' THEN w.payload::jsonb
                                    WHEN 'succeeded' THEN NULL ELSE r.error END,
                finished_at = CASE WHEN w.kind IN ('succeeded', 'failed', 'cancelled') THEN now() ELSE r.finished_at END,
                lease_expires_at = CASE WHEN w.kind = 'step' THEN r.lease_expires_at END,
                retries = r.retries + CASE WHEN w.kind = 'retry' THEN 1 ELSE 0 END,
                not_before = CASE WHEN w.kind = 'retry' THEN w.not_before ELSE r.not_before END,
                enqueued_at = CASE WHEN w.kind = 'retry' THEN w.not_before ELSE r.enqueued_at END,
                updated_at = now()
            FROM w
            WHERE r.id = w.id AND r.attempt = w.attempt AND r.status = 'running'
            RETURNING r.id, r.cancel_requested_at IS NOT NULL AS cancel_requested
        ), stages AS (
            INSERT INTO run_stages (run_id, stage_index, stage, attempt, output, started_at, finished_at)
            SELECT s.run_id, s.stage_index, s.stage, s.attempt, s.output::jsonb, s.started_at, s.finished_at
            FROM unnest($7::uuid[], $8::integer[], $9::text[], $10::integer[], $11::text[], $12::timestamptz[], $13::timestamptz[])
                AS s(run_id, stage_index, stage, attempt, output, started_at, finished_at)
            WHERE s.run_id IN (SELECT id FROM fenced)
        ), logged AS (
            INSERT INTO run_events (run_id, seq, tenant_id, type, agent_name, data, created_at)
            SELECT e.run_id, e.seq, e.tenant_id, e.type, NULLIF(e.agent, ''), e.data::jsonb, e.at
            FROM unnest($14::uuid[], $15::integer[], $16::uuid[], $17::text[], $18::text[], $19::text[], $20::timestamptz[])
                AS e(run_id, seq, tenant_id, type, agent, data, at)
            WHERE e.run_id IN (SELECT id FROM fenced)
        )
        SELECT id, cancel_requested FROM fenced
        """

    var ids: [UUID], attempts: [Int], kinds: [String], stages: [String], payloads: [String], notBefore: [Date]
    var checkpointRuns: [UUID], checkpointIndexes: [Int], checkpointNames: [String], checkpointAttempts: [Int]
    var checkpointOutputs: [String], checkpointStarts: [Date], checkpointEnds: [Date]
    var eventRuns: [UUID], eventSeqs: [Int], eventTenants: [UUID], eventTypes: [String], eventAgents: [String]
    var eventData: [String], eventTimes: [Date]

    func makeBindings() throws -> PostgresBindings {
        PostgresBindings(
            ids, attempts, kinds, stages, payloads, notBefore,
            checkpointRuns, checkpointIndexes, checkpointNames, checkpointAttempts, checkpointOutputs, checkpointStarts, checkpointEnds,
            eventRuns, eventSeqs, eventTenants, eventTypes, eventAgents, eventData, eventTimes
        )
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The batched claim, prepared once per connection (see `CommitStatement`).
struct ClaimStatement: PostgresPreparedStatement {
    typealias Row = (UUID, UUID?, String, String, Int, Int)

    static let sql = """
        UPDATE runs r SET status = 'running', attempt = r.attempt + 1, deliveries = r.deliveries + 1,
            worker_id = $1, lease_expires_at = now() + make_interval(secs => $2),
            started_at = COALESCE(r.started_at, now()), updated_at = now()
        FROM unnest($3::uuid[], $4::uuid[], $5::integer[]) AS e(id, tenant, attempt)
        WHERE r.id = e.id AND r.tenant_id = e.tenant
          AND ((r.status = 'queued' AND r.attempt = e.attempt) OR (r.status = 'running' AND r.lease_expires_at < now()))
        RETURNING r.id, r.thread_id, r.pipeline, r.input::text, r.attempt, r.retries
        """

    var worker: String, leaseSeconds: Double, ids: [UUID], tenants: [UUID], attempts: [Int]

    func makeBindings() throws -> PostgresBindings { PostgresBindings(worker, leaseSeconds, ids, tenants, attempts) }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The batched insert of queued runs, prepared once per connection (see `CommitStatement`).
struct InsertRunsStatement: PostgresPreparedStatement {
    typealias Row = RunStore.RunRow

    static let sql = """
        INSERT INTO runs (id, tenant_id, pipeline, input, status, stage_count, priority)
        SELECT n.id, n.tenant_id, n.pipeline, n.input::jsonb, 'queued', n.stage_count, n.priority
        FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::integer[], $6::smallint[])
             AS n(id, tenant_id, pipeline, input, stage_count, priority)
        RETURNING \(RunStore.runColumns)
        """

    var ids: [UUID], tenants: [UUID], pipelines: [String], inputs: [String], stageCounts: [Int], priorities: [Int]

    func makeBindings() throws -> PostgresBindings { PostgresBindings(ids, tenants, pipelines, inputs, stageCounts, priorities) }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

extension PostgresBindings {
    /// Bindings of a prepared statement's parameters, `$1` first.
    init(_ values: any PostgresDynamicTypeEncodable...) {
        self.init(capacity: values.count)
        for value in values { append(value) }
    }
}
