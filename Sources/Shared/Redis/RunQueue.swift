import Logging

/// Hands runs to the workers: the XADDs of the run stream, shared by the gateway, the workers and the scheduler.
public struct RunQueue: Sendable {
    public let store: RunStore
    public let redis: RedisClient
    public let keys: RedisKeys

    public init(store: RunStore, redis: RedisClient, keys: RedisKeys) {
        self.store = store
        self.redis = redis
        self.keys = keys
    }

    /// Adds one entry per run to the run stream, in one pipelined write.
    public func enqueue(_ entries: [RunStreamEntry]) async throws {
        guard !entries.isEmpty else { return }
        let replies = try await redis.pipeline(entries.map { RedisClient.xaddCommand(keys.runStream, fields: $0.fields) })
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }), case .error(let message) = failure {
            throw RedisError(.server, message)
        }
    }

    /// Enqueues the next run waiting on a thread whose active run ended. A failure is logged: the scheduler's
    /// reconciler releases waiting runs too.
    public func releaseWaiting(on thread: ThreadID, logger: Logger) async {
        do {
            try await enqueue(try await store.releaseWaiting(thread: thread, logger: logger))
        } catch {
            logger.warning("Releasing the thread's next run failed; the reconciler will", metadata: [LogKey.error: "\(error)"])
        }
    }
}
