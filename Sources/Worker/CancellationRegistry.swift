import Logging
import NIOCore
import ServiceLifecycle
import Shared
import Synchronization

/// Why a held run must stop before it is done.
enum RunInterruption: Sendable, Equatable {
    /// A client asked to cancel it.
    case cancelRequested
    /// Another attempt owns it now (its lease lapsed and the reaper gave it away).
    case leaseLost
}

/// The runs this worker executes, with what the lease keeper renews, so that a cancellation request (from the control
/// channel or a renewal) or a lost lease reaches the right task.
///
/// A request may arrive before the run it names is registered (it was published between the claim and the start
/// of the run's lease); the most recent such requests are kept and `hold` honours them. A run is only ever
/// cancelled once its flag is stored, and a cancelled run never runs again, so a kept request cannot go stale.
final class CancellationRegistry: Sendable {
    /// A held run's lease, as the keeper renews it.
    struct Lease: Sendable, Equatable {
        let run: RunID
        let attempt: Int
        /// The stream entry that delivered it, whose idle time each renewal resets.
        let stream: String
        let streamID: String
    }

    private struct Held {
        let lease: Lease
        let interruptions: AsyncStream<RunInterruption>.Continuation
    }

    private struct State {
        var held: [RunID: Held] = [:]
        /// Requests for runs not (yet) registered here, oldest first.
        var early: [RunID] = []
    }

    /// How many early requests are kept; every worker hears every request, so most are for other workers' runs.
    static let earlyLimit = 1024

    private let state = Mutex(State())
    private let listening: AsyncStream<Void>.Continuation
    private let listened: Mutex<AsyncStream<Void>?>

    init() {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        listening = continuation
        listened = Mutex(stream)
    }

    /// Registers a claimed run; the stream yields when the run must stop.
    func hold(_ run: ClaimedRun, entry: RunStreamEntry) -> AsyncStream<RunInterruption> {
        let (stream, continuation) = AsyncStream<RunInterruption>.makeStream()
        let lease = Lease(run: run.id, attempt: run.attempt, stream: entry.stream, streamID: entry.streamID)
        state.withLock { state in
            state.held[run.id] = Held(lease: lease, interruptions: continuation)
            if let index = state.early.firstIndex(of: run.id) {
                state.early.remove(at: index)
                continuation.yield(.cancelRequested)
            }
        }
        return stream
    }

    /// Forgets a run once it is done.
    func remove(_ run: RunID) {
        state.withLock { $0.held.removeValue(forKey: run) }?.interruptions.finish()
    }

    /// The runs this worker executes now.
    var runs: [RunID] { state.withLock { Array($0.held.keys) } }

    /// The leases of the runs this worker executes now.
    var leases: [Lease] { state.withLock { $0.held.values.map(\.lease) } }

    /// Signals the run's task, or keeps the request should the run be registered shortly.
    func cancel(_ run: RunID) {
        state.withLock { state in
            if let held = state.held[run] {
                held.interruptions.yield(.cancelRequested)
            } else if !state.early.contains(run) {
                if state.early.count >= Self.earlyLimit { state.early.removeFirst() }
                state.early.append(run)
            }
        }
    }

    /// Signals the run's task that `lease` no longer owns the run (a later attempt of the same run is left alone).
    func leaseLost(_ lease: Lease) {
        state.withLock { state in
            guard let held = state.held[lease.run], held.lease == lease else { return }
            held.interruptions.yield(.leaseLost)
        }
    }

    /// The control channel is subscribed: requests published from now on reach this worker.
    func markListening() {
        listening.finish()
    }

    /// Returns once the control channel is subscribed, or after `limit` (the lease renewals also carry the flag).
    func waitUntilListening(atMost limit: Duration) async {
        guard let stream = listened.withLock({ $0.take() }) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in stream {} }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Listens on the control channel and forwards cancellation requests to the registry.
///
/// Requests published while the channel was not subscribed (before the first subscription, or while Redis was
/// unreachable) are not delivered, so on every (re)subscription the flags of the runs this worker holds are read
/// from PostgreSQL.
struct ControlListener: Service {
    let subscriber: RedisSubscriber
    let channel: String
    let registry: CancellationRegistry
    let store: RunStore
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await subscriber.withSubscription(to: channel) { stream in
                        registry.markListening()
                        await cancelFlagged()
                        for await message in stream {
                            switch message {
                            case .message(let payload):
                                if let run = RunID(String(buffer: payload)) { registry.cancel(run) }
                            case .resubscribed:
                                await cancelFlagged()
                            }
                        }
                    }
                } catch {
                    // Not connected yet, or Redis is down: the subscriber reconnects; lease renewals also carry the flag.
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }

    /// Cancels the held runs whose cancellation was requested while no message could arrive.
    private func cancelFlagged() async {
        let runs = registry.runs
        guard !runs.isEmpty else { return }
        do {
            for run in try await store.cancelRequested(among: runs, logger: logger) { registry.cancel(run) }
        } catch {
            logger.warning("Reading cancellation flags failed; lease renewals carry them", metadata: [LogKey.error: "\(error)"])
        }
    }
}
