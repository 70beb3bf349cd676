import Foundation
import Logging
import PostgresNIO

/// What the reaper needs to know about a run whose stream entry went idle.
public struct RecoveryState: Sendable, Equatable {
    public let status: RunStatus
    public let attempt: Int
    public let deliveries: Int
    /// `true` when no worker holds a valid lease.
    public let leaseExpired: Bool
}

/// The result of a cancellation request.
public enum CancelOutcome: Sendable, Equatable {
    /// The run was queued and is now `cancelled`; these events were committed and should be published.
    case cancelled([RunEvent])
    /// The run is executing; its worker was asked to stop.
    case requested
    /// The run had already finished; nothing changed.
    case alreadyFinished(RunStatus)
}

extension RunStore {
    /// The run's recovery-relevant state, if it exists in `tenant`.
    public func recoveryState(_ run: RunID, tenant: TenantID, logger: Logger) async throws -> RecoveryState? {
        let rows = try await client.query(
            """
            SELECT status, attempt, deliveries, COALESCE(lease_expires_at < now(), true)
            FROM runs WHERE id = \(run.uuid) AND tenant_id = \(tenant.uuid)
            """,
            logger: logger
        )
        for try await (status, attempt, deliveries, expired) in rows.decode((String, Int, Int, Bool).self) {
            return RecoveryState(status: RunStatus(rawValue: status) ?? .failed, attempt: attempt, deliveries: deliveries, leaseExpired: expired)
        }
        return nil
    }

    /// Ends an unfinished run as `dead` (delivered too often), fencing out any owner, with its closing events.
    ///
    /// - Returns: The committed events to publish; empty when the run had already finished.
    public func markDead(_ run: RunID, tenant: TenantID, reason: String, logger: Logger) async throws -> [RunEvent] {
        let error = ServerMessage.data(["code": "dead", "message": reason])
        return try await finishUnowned(
            run, tenant: tenant, from: ["queued", "running"], to: .dead, error: error,
            closing: [(.error, error), (.agentCompleted, #"{"status":"dead","error":"# + error + "}")],
            logger: logger
        )
    }

    /// Cancels a queued run at once, or asks the worker of a running run to stop.
    public func cancel(_ run: RunID, tenant: TenantID, logger: Logger) async throws -> CancelOutcome? {
        let events = try await finishUnowned(
            run, tenant: tenant, from: ["queued"], to: .cancelled, error: nil,
            closing: [(.agentCompleted, #"{"status":"cancelled"}"#)], logger: logger
        )
        if !events.isEmpty { return .cancelled(events) }
        let rows = try await client.query(
            """
            UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, now()), updated_at = now()
            WHERE id = \(run.uuid) AND tenant_id = \(tenant.uuid) AND status = 'running' RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows { return .requested }
        guard let record = try await self.run(run, tenant: tenant, logger: logger) else { return nil }
        // Queued or running again since the first check (a race with a claim): ask the caller to retry.
        guard record.status.isFinal else { return .requested }
        return .alreadyFinished(record.status)
    }

    /// Moves a run that no worker owns to a final state, bumping `attempt` so a late owner can write nothing more.
    private func finishUnowned(
        _ run: RunID, tenant: TenantID, from statuses: [String], to status: RunStatus, error: String?,
        closing: [(EventType, String)], logger: Logger
    ) async throws -> [RunEvent] {
        try await client.transaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE runs SET status = \(status.rawValue), attempt = attempt + 1, error = \(error)::jsonb,
                    finished_at = now(), updated_at = now(), lease_expires_at = NULL, current_stage = NULL
                WHERE id = \(run.uuid) AND tenant_id = \(tenant.uuid) AND status = ANY(\(statuses))
                RETURNING thread_id
                """,
                logger: logger
            )
            var found = false
            var thread: ThreadID?
            for try await id in rows.decode(UUID?.self) {
                found = true
                thread = id.map(ThreadID.init)
            }
            guard found else { return [] }
            var seq = try await Self.lastSeq(of: run, on: connection, logger: logger)
            let events = closing.map { type, data in
                seq += 1
                return RunEvent(runID: run, threadID: thread, seq: seq, type: type, agentName: nil, data: data, timestamp: Date())
            }
            try await Self.insert(events, tenant: tenant, on: connection, logger: logger)
            return events
        }
    }

    /// Runs the reconciler hands to Redis again.
    public enum Stale: Sendable {
        /// Queued runs last handed to Redis longer ago than the age: the gateway died between its insert and its
        /// XADD, or Redis lost the entry. A run that is still in the stream gets a second entry, which loses its
        /// claim and is acknowledged.
        case queued
        /// Running runs whose lease ran out longer ago than the age and that were last handed to Redis longer ago
        /// than it: normally the reaper recovers such a run from its pending entry within one lease, so one still
        /// waiting means Redis lost the entry while its worker died. A worker's claim takes over the expired lease
        /// and resumes from the finished stages.
        case abandonedRunning
    }

    /// Takes up to `limit` runs of `kind` older than `age` and marks them as enqueued now, so the next pass waits
    /// `age` again for them; `SKIP LOCKED` keeps concurrent passes apart.
    public func takeStale(_ kind: Stale, olderThan age: Duration, limit: Int, logger: Logger) async throws -> [RunStreamEntry] {
        let seconds = Double(age.wholeMilliseconds) / 1000
        let (condition, order) =
            switch kind {
            case .queued:
                ("status = 'queued' AND enqueued_at < c.at AND (not_before IS NULL OR not_before <= now())", "enqueued_at")
            case .abandonedRunning:
                ("status = 'running' AND lease_expires_at < c.at AND enqueued_at < c.at", "lease_expires_at")
            }
        let rows = try await client.query(
            """
            UPDATE runs SET enqueued_at = now()
            WHERE id IN (
                SELECT id FROM runs, (SELECT now() - make_interval(secs => \(seconds)) AS at) c
                WHERE \(unescaped: condition)
                ORDER BY \(unescaped: order) LIMIT \(limit) FOR UPDATE OF runs SKIP LOCKED)
            RETURNING id, tenant_id, attempt, priority::integer
            """,
            logger: logger
        )
        return try await Self.entries(rows)
    }
}

extension RunStore {
    /// Queues a dead or failed run again with a fresh delivery count; its finished stages stay as checkpoints.
    ///
    /// - Returns: The entry to enqueue, or `nil` when the run is not dead or failed (or not the tenant's).
    public func requeue(_ run: RunID, tenant: TenantID, logger: Logger) async throws -> RunStreamEntry? {
        let rows = try await client.query(
            """
            UPDATE runs SET status = 'queued', attempt = attempt + 1, deliveries = 0, error = NULL, finished_at = NULL,
                cancel_requested_at = NULL, lease_expires_at = NULL, enqueued_at = now(), updated_at = now()
            WHERE id = \(run.uuid) AND tenant_id = \(tenant.uuid) AND status IN ('dead', 'failed')
            RETURNING attempt, priority::integer
            """,
            logger: logger
        )
        for try await (attempt, priority) in rows.decode((Int, Int).self) {
            return RunStreamEntry(runID: run, tenantID: tenant, attempt: attempt, priority: RunPriority(rank: priority) ?? .normal)
        }
        return nil
    }
}

extension RunStore {
    /// Those of `runs` (of `tenant`) that have ended or do not exist: slots they hold are held by nothing.
    public func endedOrMissing(_ runs: [RunID], tenant: TenantID, logger: Logger) async throws -> [RunID] {
        guard !runs.isEmpty else { return [] }
        let rows = try await client.query(
            """
            SELECT a.id FROM unnest(\(runs.map(\.uuid))::uuid[]) AS a(id)
            WHERE NOT EXISTS (
                SELECT 1 FROM runs r WHERE r.id = a.id AND r.tenant_id = \(tenant.uuid) AND r.status IN ('queued', 'running'))
            """,
            logger: logger
        )
        var ended: [RunID] = []
        for try await id in rows.decode(UUID.self) { ended.append(RunID(uuid: id)) }
        return ended
    }
}

extension RunStore {
    /// The latest runs of every tenant that failed or died, newest first: the operations console's failures and dead
    /// letters (the partial index `runs_failed_idx` keeps this a short index scan).
    public func recentFailures(limit: Int, logger: Logger) async throws -> [RunRecord] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.runColumns) FROM runs
            WHERE status IN ('failed', 'dead') ORDER BY finished_at DESC LIMIT \(limit)
            """,
            logger: logger
        )
        return try await Self.records(rows)
    }

    /// The tenant a run belongs to, for the operator's actions that are not scoped by a tenant's token.
    public func tenant(of run: RunID, logger: Logger) async throws -> TenantID? {
        let rows = try await client.query("SELECT tenant_id FROM runs WHERE id = \(run.uuid)", logger: logger)
        for try await id in rows.decode(UUID.self) { return TenantID(uuid: id) }
        return nil
    }
}
