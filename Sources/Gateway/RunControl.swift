import Foundation
import HTTPTypes
import Logging
import Shared

/// Cancellation and manual retry, shared by REST and the WebSocket.
struct RunControl: Sendable {
    let runs: RunStore
    let redis: RedisClient
    let admission: Admission
    var keys: RedisKeys { admission.keys }

    /// The answer to a cancellation request.
    struct CancelResult: Encodable {
        let runID: RunID
        /// `cancelled` (it was queued), `cancelling` (its worker stops it within a second) or the final status it had.
        let status: String
        let cancelled: Bool
        let message: String
        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case status, cancelled, message
        }
    }

    /// Cancels a queued run at once, asks the worker of a running one to stop, and says so for a finished one.
    func cancel(_ run: RunID, identity: Identity, logger: Logger) async throws -> CancelResult {
        guard let outcome = try await runs.cancel(run, tenant: identity.tenantID, logger: logger) else {
            throw NetraError.runNotFound
        }
        switch outcome {
        case .cancelled(let events):
            _ = try? await redis.pipeline(events.map { ["PUBLISH", RedisArgument(keys.runEvents(run)), RedisArgument($0.wireJSON)] })
            if let thread = events.first?.threadID { await queue.releaseWaiting(on: thread, logger: logger) }
            return CancelResult(runID: run, status: RunStatus.cancelled.rawValue, cancelled: true, message: "the queued run was cancelled")
        case .requested:
            // The worker also reads the flag at its next heartbeat or stage, should this message be lost.
            _ = try? await redis.send(["PUBLISH", RedisArgument(keys.control), RedisArgument(run.description)])
            return CancelResult(runID: run, status: "cancelling", cancelled: true, message: "the running run is being cancelled")
        case .alreadyFinished(let status):
            return CancelResult(runID: run, status: status.rawValue, cancelled: false, message: "the run had already finished; nothing to cancel")
        }
    }

    var queue: RunQueue { RunQueue(store: runs, admission: admission) }

    /// Queues a dead or failed run again; it resumes after its last finished stage.
    func retry(_ run: RunID, tenant: TenantID, logger: Logger) async throws -> RunStreamEntry {
        guard let entry = try await runs.requeue(run, tenant: tenant, logger: logger) else {
            guard try await runs.run(run, tenant: tenant, logger: logger) != nil else {
                throw NetraError.runNotFound
            }
            throw NetraError(.conflict, .conflict, "only dead or failed runs can be retried")
        }
        do {
            try await queue.enqueue([entry])
        } catch {
            // The run is queued in PostgreSQL: the scheduler's reconciler enqueues it.
            logger.warning("Enqueue of a retried run failed; the reconciler will enqueue it", metadata: [LogKey.error: "\(error)"])
        }
        return entry
    }
}
