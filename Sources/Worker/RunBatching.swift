import Logging
import Metrics
import Shared

/// Group commit for one worker: the claims and the step commits of all the runs it executes are batched across runs,
/// one statement per batch, and a batch's events are published in one Redis pipeline once it is committed.
///
/// Each run still waits for its own claim and each of its commits, so its guarantees are those of a transaction
/// per step; only the cost is shared.
struct RunBatching: Sendable {
    let claims: Batcher<RunStreamEntry, ClaimedRun?>
    let commits: Batcher<RunWrite, Bool>

    init(store: RunStore, redis: RedisClient, keys: RedisKeys, worker: String, lease: Duration, logger: Logger) {
        // A failed claim batch is not retried entry by entry: the error may come after PostgreSQL committed it (the
        // connection dropped while the answer was on its way), and a retry would then find the runs running under a
        // live lease, answer "claimed by someone else", and the entries would be acknowledged while nobody runs them.
        // Failing them all leaves them pending; the reaper gives them to a worker once the lease (if any) lapses.
        claims = Batcher(maxBatch: 128) { entries in
            let started = ContinuousClock.now
            defer { NetraMetric.timer(NetraMetric.postgresBatch, [("statement", "claim")]).record(duration: ContinuousClock.now - started) }
            do {
                return try await store.claim(entries, worker: worker, lease: lease, logger: logger).map { .success($0) }
            } catch {
                logger.warning("Claiming a batch failed; its runs stay pending for recovery", metadata: [LogKey.error: "\(error)", "batch.size": "\(entries.count)"])
                return entries.map { _ in .failure(error) }
            }
        }
        commits = Batcher(maxBatch: 256) { writes in
            await Batcher.serveEachAloneOnFailure(writes, logger: logger, "Committing a batch failed") { writes in
                let started = ContinuousClock.now
                let results = try await store.commit(writes, logger: logger)
                NetraMetric.timer(NetraMetric.postgresBatch, [("statement", "commit")]).record(duration: ContinuousClock.now - started)
                await Self.publish(zip(writes, results).filter { (try? $0.1.get()) != nil }.map(\.0), redis: redis, keys: keys, logger: logger)
                return results.map { $0.mapError { $0 as any Error } }
            }
        }
    }

    /// Publishes the events of committed writes; a failure is logged, since the event log already holds them.
    private static func publish(_ writes: [RunWrite], redis: RedisClient, keys: RedisKeys, logger: Logger) async {
        let commands = writes.flatMap { write in
            let channel = RedisArgument(keys.runEvents(write.runID))
            return write.events.map { ["PUBLISH", channel, RedisArgument($0.wireJSON)] }
        }
        guard !commands.isEmpty else { return }
        do {
            _ = try await redis.pipeline(commands, timeout: .seconds(2))
        } catch {
            logger.warning("Publishing events failed; clients will catch up from the event log", metadata: [LogKey.error: "\(error)"])
        }
    }
}
