import Logging
import ServiceLifecycle
import Shared

/// Tells admission how many slots this worker has (see `Admission`): registers them every `interval` for three
/// intervals, so a worker that dies drops out of the overall capacity within that time, and removes them on graceful
/// shutdown (after the consumer, which stops first, has finished its runs).
struct WorkerRegistration: Service {
    let admission: Admission
    let worker: String
    let concurrency: Int
    var interval: Duration = .seconds(5)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await admission.register(worker: worker, concurrency: concurrency, lifetime: interval * 3)
                } catch {
                    logger.warning("Registering the worker's slots failed; retrying", metadata: [LogKey.error: "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
        do {
            try await admission.register(worker: worker, concurrency: 0, lifetime: .zero)
        } catch {
            logger.warning("Removing the worker's slots failed; they expire on their own", metadata: [LogKey.error: "\(error)"])
        }
    }
}
