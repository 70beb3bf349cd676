import ServiceLifecycle
import Shared
import Logging
import NIOCore
import Synchronization

/// The runs this worker executes, so a cancellation request (from the control channel) reaches the right task.
final class CancellationRegistry: Sendable {
    private let watchers = Mutex<[RunID: AsyncStream<Void>.Continuation]>([:])

    /// Registers a run; the stream yields once when its cancellation is requested.
    func watch(_ run: RunID) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        watchers.withLock { $0[run] = continuation }
        return stream
    }

    /// Forgets a run once it is done.
    func remove(_ run: RunID) {
        watchers.withLock { $0.removeValue(forKey: run) }?.finish()
    }

    /// Signals the run's task, if this worker executes it.
    func cancel(_ run: RunID) {
        watchers.withLock { $0[run] }?.yield()
    }
}

/// Listens on the control channel and forwards cancellation requests to the registry.
struct ControlListener: Service {
    let subscriber: RedisSubscriber
    let channel: String
    let registry: CancellationRegistry
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await subscriber.withSubscription(to: channel) { stream in
                        for await message in stream {
                            guard case .message(let payload) = message, let run = RunID(String(buffer: payload)) else { continue }
                            registry.cancel(run)
                        }
                    }
                } catch {
                    // Not connected yet, or Redis is down: the subscriber reconnects; lease renewals also carry the flag.
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }
}
