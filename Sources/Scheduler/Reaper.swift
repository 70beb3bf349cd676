import Foundation
import Logging
import NIOCore
import Shared

/// Recovers runs whose worker died: claims stream entries idle past the lease (`XAUTOCLAIM`) and, for each,
/// acknowledges it (run already final), leaves it (owner still holds a valid lease), re-enqueues it (a fresh entry
/// that the next worker claims because the lease expired), or, after `maxDeliveries`, ends the run as `dead` and
/// copies the entry to the dead-letter stream.
struct Reaper: Sendable {
    let redis: RedisClient
    let store: RunStore
    let admission: Admission
    var keys: RedisKeys { admission.keys }
    /// The reaper's consumer name in the group.
    let consumer: String
    /// Entries idle longer than this are candidates; equal to the workers' lease.
    let minIdle: Duration
    let maxDeliveries: Int

    /// What one sweep did.
    struct Report: Equatable {
        var requeued = 0
        var dead = 0
        var acknowledged = 0
        var alive = 0
    }

    /// Examines every idle entry once.
    ///
    /// A stream whose consumer group does not exist yet (the scheduler started before any gateway or worker created
    /// it, or Redis lost it) has nothing pending: the group is created and the other streams are still swept, so one
    /// missing group cannot stop the recovery of every run.
    @discardableResult
    func sweep(logger: Logger) async throws -> Report {
        var report = Report()
        for stream in keys.workStreams {
            do {
                try await sweep(stream, report: &report, logger: logger)
            } catch let error as RedisError where error.isMissingGroup {
                try await redis.createGroup(keys.workerGroup, on: stream)
            }
        }
        return report
    }

    private func sweep(_ stream: String, report: inout Report, logger: Logger) async throws {
        var cursor = "0-0"
        repeat {
            let reply = try await redis.send([
                "XAUTOCLAIM", RedisArgument(stream), RedisArgument(keys.workerGroup), RedisArgument(consumer),
                RedisArgument(Int(minIdle.wholeMilliseconds)), RedisArgument(cursor), "COUNT", "100",
            ])
            guard let parts = reply.array, parts.count >= 2, let next = parts[0].string, let entries = parts[1].array else {
                throw RedisError(.unexpectedReply, "XAUTOCLAIM replied \(reply)")
            }
            for value in entries {
                guard var entry = try RedisClient.parseEntry(value) else { continue }
                entry.stream = stream
                try await recover(entry, report: &report, logger: logger)
            }
            cursor = next
        } while cursor != "0-0"
    }

    private func recover(_ entry: StreamEntry, report: inout Report, logger: Logger) async throws {
        guard let run = RunStreamEntry(entry),
            let state = try await store.recoveryState(run.runID, tenant: run.tenantID, logger: logger),
            !state.status.isFinal
        else {
            // Its worker committed the end but stopped before releasing the tenant's slot (or it is a duplicate).
            if let run = RunStreamEntry(entry) {
                try await admission.release(run, group: keys.workerGroup)
            } else {
                try await redis.ack(keys.workerGroup, stream: entry.stream, ids: [entry.id])
            }
            report.acknowledged += 1
            return
        }
        let logger = logger.with(LogKey.runID, "\(run.runID)")
        if state.status == .running && !state.leaseExpired {
            report.alive += 1
            return
        }
        if state.deliveries >= maxDeliveries {
            let events = try await store.markDead(
                run.runID, tenant: run.tenantID, reason: "delivered \(state.deliveries) times without finishing", logger: logger
            )
            _ = try await redis.pipeline(
                events.map { ["PUBLISH", RedisArgument(keys.runEvents(run.runID)), RedisArgument($0.wireJSON)] } + [
                    RedisClient.xaddCommand(
                        keys.deadLetterStream,
                        fields: ["run": run.runID.description, "tenant": run.tenantID.description, "deliveries": String(state.deliveries)]
                    ),
                ]
            )
            try await admission.release(run, group: keys.workerGroup)
            logger.warning("Run is dead after repeated deliveries", metadata: ["deliveries": "\(state.deliveries)"])
            report.dead += 1
            return
        }
        // The new entry and the acknowledgement of the old one go together (MULTI), so the run is never in neither.
        // It goes to the recovery stream, which workers read first: a recovered run does not queue behind the backlog.
        let fresh = RunStreamEntry(runID: run.runID, tenantID: run.tenantID, attempt: state.attempt)
        let replies = try await redis.pipeline([
            ["MULTI"],
            RedisClient.xaddCommand(keys.recoveryStream, fields: fresh.fields),
            ["XACK", RedisArgument(entry.stream), RedisArgument(keys.workerGroup), RedisArgument(entry.id)],
            ["EXEC"],
        ])
        if case .error(let message) = replies.last { throw RedisError(.server, message) }
        logger.info("Re-enqueued a run whose worker stopped", metadata: [LogKey.attempt: "\(state.attempt)"])
        report.requeued += 1
    }
}

/// Re-enqueues runs that are queued in PostgreSQL but were never (or no longer are) in the stream: the gateway died
/// between its insert and its XADD, or Redis lost data. Likewise runs left `running` with a long-expired lease and no
/// stream entry for the reaper to find (Redis lost it and their worker died).
///
/// It also repairs the tenants' admission state from PostgreSQL: in-flight limits are copied into Redis, and a slot
/// held by a run that has ended (its worker died between committing and releasing) is released.
struct Reconciler: Sendable {
    let store: RunStore
    let identities: IdentityStore
    let admission: Admission
    /// How long a run may wait queued before it is handed to Redis again.
    let age: Duration

    @discardableResult
    func sweep(logger: Logger) async throws -> Int {
        try await admission.setLimits(try await identities.inFlightLimits(logger: logger))
        try await repairSlots(logger: logger)
        // Runs waiting behind a thread's run that ended without releasing them.
        let queue = RunQueue(store: store, admission: admission)
        let released = try await store.releaseWaiting(logger: logger)
        try await queue.enqueue(released)
        var total = released.count
        // A run waiting in its tenant's backlog stays there; one holding a slot gets a fresh stream entry.
        for kind in [RunStore.Stale.queued, .abandonedRunning] {
            while true {
                let entries = try await store.takeStale(kind, olderThan: age, limit: 500, logger: logger)
                guard !entries.isEmpty else { break }
                try await queue.enqueue(entries, mode: .reconcile)
                logger.log(
                    level: kind == .queued ? .info : .warning, "Re-enqueued runs missing from the stream",
                    metadata: ["count": "\(entries.count)", "state": "\(kind)"]
                )
                total += entries.count
            }
        }
        return total
    }

    /// Releases slots held by runs that have ended or no longer exist, and promotes into any room there is.
    private func repairSlots(logger: Logger) async throws {
        for load in try await admission.load() {
            let admitted = try await admission.admittedRuns(load.tenant)
            let ended = try await store.endedOrMissing(admitted, tenant: load.tenant, logger: logger)
            if !ended.isEmpty {
                logger.warning("Releasing slots of ended runs", metadata: [LogKey.tenantID: "\(load.tenant)", "count": "\(ended.count)"])
                try await admission.release(ended.map { (load.tenant, $0) })
            }
        }
        // Recount the admitted runs, rebuild the ready rings, and fill any room.
        try await admission.resync()
    }
}
