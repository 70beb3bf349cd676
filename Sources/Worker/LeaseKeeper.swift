import Logging
import ServiceLifecycle
import Shared

/// Renews the leases of all the runs this worker executes, every `interval`: one statement for all of them, then
/// one `XCLAIM … JUSTID` per stream to reset their entries' idle time, so the reaper leaves live runs alone.
///
/// One keeper per worker rather than a timer task per run (as Hatchet's worker heartbeats and BullMQ's lock manager
/// do): a run is renewed within `interval` of its claim, as before, and a short run costs no timer at all. A run whose
/// attempt no longer owns it is told `leaseLost`; one whose cancellation the renewal finds requested (the control
/// channel may have missed it) is told `cancelRequested`. The keeper stops after the consumer, whose runs it renews
/// until they finish.
struct LeaseKeeper: Service {
    let store: RunStore
    let redis: RedisClient
    let registry: CancellationRegistry
    let group: String
    let consumer: String
    let interval: Duration
    let lease: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if !Task.isCancelled { await renew() }
            }
        }
    }

    /// Renews the leases held now.
    func renew() async {
        let leases = registry.leases
        guard !leases.isEmpty else { return }
        var live = leases
        do {
            // Bounded, so that a statement stuck on a lost connection does not hold back the next renewal.
            let renewals = try await withTimeout(interval) { [store, lease, logger] in
                try await store.renewLeases(leases.map { ($0.run, $0.attempt) }, lease: lease, logger: logger)
            }
            for held in leases {
                switch renewals[held.run] {
                case .lost: registry.leaseLost(held)
                case .renewed(cancelRequested: true): registry.cancel(held.run)
                case .renewed(cancelRequested: false), nil: break
                }
            }
            live.removeAll { renewals[$0.run] == .lost }
        } catch {
            logger.warning("Renewing leases failed; retrying", metadata: [LogKey.error: "\(error)", "runs": "\(leases.count)"])
        }
        // A lost run's entry may have been handed to another consumer: claiming it back would hide it from the reaper.
        guard !live.isEmpty else { return }
        var commands: [[RedisArgument]] = []
        for (stream, leases) in Dictionary(grouping: live, by: \.stream) {
            let ids = leases.map { RedisArgument($0.streamID) }
            commands.append(["XCLAIM", RedisArgument(stream), RedisArgument(group), RedisArgument(consumer), "0"] + ids + ["JUSTID"])
        }
        _ = try? await redis.pipeline(commands, timeout: interval)
    }
}
