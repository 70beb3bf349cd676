import Logging
import NIOCore
import ServiceLifecycle
import Shared
import Synchronization

/// The runs this worker executes, so a cancellation request (from the control channel) reaches the right task.
///
/// A request may arrive before the run it names is registered (it was published between the claim and the start
/// of the run's lease); the most recent such requests are kept and `watch` honours them. A run is only ever
/// cancelled once its flag is stored, and a cancelled run never runs again, so a kept request cannot go stale.
final class CancellationRegistry: Sendable {
    private struct State {
        var watchers: [RunID: AsyncStream<Void>.Continuation] = [:]
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

    /// Registers a run; the stream yields once when its cancellation is requested.
    func watch(_ run: RunID) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        state.withLock { state in
            state.watchers[run] = continuation
            if let index = state.early.firstIndex(of: run) {
                state.early.remove(at: index)
                continuation.yield()
            }
        }
        return stream
    }

    /// Forgets a run once it is done.
    func remove(_ run: RunID) {
        state.withLock { $0.watchers.removeValue(forKey: run) }?.finish()
    }

    /// The runs this worker executes now.
    var runs: [RunID] { state.withLock { Array($0.watchers.keys) } }

    /// Signals the run's task, or keeps the request should the run be registered shortly.
    func cancel(_ run: RunID) {
        state.withLock { state in
            if let watcher = state.watchers[run] {
                watcher.yield()
            } else if !state.early.contains(run) {
                if state.early.count >= Self.earlyLimit { state.early.removeFirst() }
                state.early.append(run)
            }
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
