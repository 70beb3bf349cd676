import Foundation
import Logging
import PostgresNIO

/// A run a worker owns: what it needs to execute the remaining stages.
public struct ClaimedRun: Sendable {
    public let id: RunID
    public let tenantID: TenantID
    public let threadID: ThreadID?
    public let pipeline: String
    /// JSON text of the run input.
    public let input: String
    /// The fencing token: writes with an older attempt are refused.
    public let attempt: Int
    /// The stages already finished by earlier attempts: their outputs are reused, never recomputed.
    public let finishedStages: [StageRecord]
    /// The `seq` the next event gets.
    public let nextSeq: Int
    /// How many times a stage of this run failed with a retryable error and was retried.
    public var retries: Int = 0

    public init(
        id: RunID, tenantID: TenantID, threadID: ThreadID?, pipeline: String, input: String, attempt: Int,
        finishedStages: [StageRecord], nextSeq: Int, retries: Int = 0
    ) {
        self.retries = retries
        self.id = id
        self.tenantID = tenantID
        self.threadID = threadID
        self.pipeline = pipeline
        self.input = input
        self.attempt = attempt
        self.finishedStages = finishedStages
        self.nextSeq = nextSeq
    }
}

/// What renewing a held run's lease found.
public enum LeaseRenewal: Sendable, Equatable {
    /// The lease is extended; `cancelRequested` when a client asked to cancel the run.
    case renewed(cancelRequested: Bool)
    /// A later attempt owns the run (the reaper gave it away or ended it as dead): this attempt must stop.
    case lost
}

/// Thrown when a worker writes for an attempt that no longer owns the run.
public struct LeaseLost: Error, CustomStringConvertible {
    public let runID: RunID
    public let attempt: Int
    public init(runID: RunID, attempt: Int) {
        self.runID = runID
        self.attempt = attempt
    }

    public var description: String { "run \(runID) is no longer owned by attempt \(attempt)" }
}

/// Everything one step of a run writes, committed in one fenced transaction.
public struct RunWrite: Sendable {
    /// How the run ends, when this write ends it.
    public enum Outcome: Sendable, Equatable {
        case succeeded(result: String)
        case failed(error: String)
        case cancelled
        /// Back to `queued` until `notBefore`, after a retryable stage failure.
        case retry(notBefore: Date, error: String)
    }

    public var runID: RunID
    public var tenantID: TenantID
    public var attempt: Int
    public var events: [RunEvent]
    public var currentStage: String?
    /// Stages finished by this write, in order.
    public var checkpoints: [StageRecord]
    public var outcome: Outcome?

    public init(
        runID: RunID, tenantID: TenantID, attempt: Int, events: [RunEvent], currentStage: String? = nil,
        checkpoint: StageRecord? = nil, outcome: Outcome? = nil
    ) {
        self.runID = runID
        self.tenantID = tenantID
        self.attempt = attempt
        self.events = events
        self.currentStage = currentStage
        self.checkpoints = checkpoint.map { [$0] } ?? []
        self.outcome = outcome
    }

    /// Adds the next write of the same run and attempt, so that both commit as one: events and checkpoints in
    /// order, the later current stage, the later outcome.
    public mutating func merge(_ next: RunWrite) {
        precondition(next.runID == runID && next.attempt == attempt, "merging writes of one run and attempt only")
        events += next.events
        checkpoints += next.checkpoints
        currentStage = next.currentStage ?? currentStage
        outcome = next.outcome ?? outcome
    }
}

extension RunStore {
    /// Claims a delivered run so that exactly one worker executes it.
    ///
    /// The claim succeeds when the run is still queued with the entry's attempt, or when its owner's lease expired.
    /// It increments `attempt`, which fences out any earlier owner.
    ///
    /// - Returns: `nil` when the run is finished or another worker owns it (ack the entry without running).
    public func claim(_ entry: RunStreamEntry, worker: String, lease: Duration, logger: Logger) async throws -> ClaimedRun? {
        try await claim([entry], worker: worker, lease: lease, logger: logger)[0]
    }

    /// Extends the leases of runs one worker executes, in one statement.
    ///
    /// - Returns: For each run still owned by the given attempt and running, `.renewed`; for each run a later attempt
    ///   owns (or that is gone), `.lost`. A run that is in neither ended under the given attempt (finished, or queued
    ///   for its retry): it has no lease to renew and nothing to stop.
    public func renewLeases(_ held: [(run: RunID, attempt: Int)], lease: Duration, logger: Logger) async throws -> [RunID: LeaseRenewal] {
        guard !held.isEmpty else { return [:] }
        let leaseSeconds = Double(lease.wholeMilliseconds) / 1000
        let ids = held.map(\.run.uuid)
        let attempts = held.map(\.attempt)
        let rows = try await client.query(
            """
            WITH held AS (SELECT * FROM unnest(\(ids)::uuid[], \(attempts)::integer[]) AS h(id, attempt)),
            renewed AS (
                UPDATE runs r SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
                FROM held h WHERE r.id = h.id AND r.attempt = h.attempt AND r.status = 'running'
                RETURNING r.id, r.cancel_requested_at IS NOT NULL AS cancel_requested
            )
            SELECT id, cancel_requested FROM renewed
            UNION ALL
            SELECT h.id, NULL FROM held h LEFT JOIN runs r ON r.id = h.id WHERE r.id IS NULL OR r.attempt <> h.attempt
            """,
            logger: logger
        )
        var renewals: [RunID: LeaseRenewal] = [:]
        for try await (id, cancelRequested) in rows.decode((UUID, Bool?).self) {
            renewals[RunID(uuid: id)] = cancelRequested.map { .renewed(cancelRequested: $0) } ?? .lost
        }
        return renewals
    }

    /// Of `runs`, those still running whose cancellation was requested.
    public func cancelRequested(among runs: [RunID], logger: Logger) async throws -> [RunID] {
        let ids = runs.map(\.uuid)
        let rows = try await client.query(
            "SELECT id FROM runs WHERE id = ANY(\(ids)::uuid[]) AND status = 'running' AND cancel_requested_at IS NOT NULL",
            logger: logger
        )
        var flagged: [RunID] = []
        for try await id in rows.decode(UUID.self) { flagged.append(RunID(uuid: id)) }
        return flagged
    }

    /// Gives up the lease of a run this worker cannot finish (shutting down), so another worker may claim it at once.
    public func releaseLease(_ run: RunID, attempt: Int, logger: Logger) async throws {
        try await client.query(
            """
            UPDATE runs SET lease_expires_at = now() - interval '1 millisecond'
            WHERE id = \(run.uuid) AND attempt = \(attempt) AND status = 'running'
            """,
            logger: logger
        )
    }

    /// Records that a stage execution starts (the `bench` pipeline's audit for the chaos check).
    public func recordExecution(_ run: RunID, stage: Int, attempt: Int, worker: String, logger: Logger) async throws {
        try await client.query(
            "INSERT INTO stage_executions (run_id, stage_index, attempt, worker_id) VALUES (\(run.uuid), \(stage), \(attempt), \(worker))",
            logger: logger
        )
    }

    /// The highest `seq` stored for the run (0 when it has no events).
    public func lastSeq(of run: RunID, logger: Logger) async throws -> Int {
        try await client.withConnection { try await Self.lastSeq(of: run, on: $0, logger: logger) }
    }

    static func lastSeq(of run: RunID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("SELECT COALESCE(max(seq), 0) FROM run_events WHERE run_id = \(run.uuid)", logger: logger)
        for try await seq in rows.decode(Int.self) { return seq }
        return 0
    }

    /// Commits a step of a run: its events, its checkpoint and state change, all or nothing.
    ///
    /// - Returns: Whether a cancellation of the run has been requested.
    /// - Throws: `LeaseLost` when `write.attempt` no longer owns the run; nothing is written then.
    @discardableResult
    public func commit(_ write: RunWrite, logger: Logger) async throws -> Bool {
        try await commit([write], logger: logger)[0].get()
    }

    /// Inserts events of one run in one statement.
    static func insert(_ events: [RunEvent], tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        guard let run = events.first?.runID else { return }
        let seqs = events.map(\.seq)
        let types = events.map(\.type.rawValue)
        let agents = events.map { $0.agentName ?? "" }
        let data = events.map(\.data)
        let times = events.map(\.timestamp)
        try await connection.query(
            """
            INSERT INTO run_events (run_id, seq, tenant_id, type, agent_name, data, created_at)
            SELECT \(run.uuid), e.seq, \(tenant.uuid), e.type, NULLIF(e.agent, ''), e.data::jsonb, e.at
            FROM unnest(\(seqs)::integer[], \(types)::text[], \(agents)::text[], \(data)::text[], \(times)::timestamptz[])
                AS e(seq, type, agent, data, at)
            """,
            logger: logger
        )
    }
}
