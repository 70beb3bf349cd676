import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// One subscriber connection per process, multiplexing the pub/sub channels its callers watch.
///
/// Run it as a `Service`: `run()` keeps the connection up, reconnects with backoff and subscribes again
/// to every watched channel. Pub/sub is fire-and-forget, so after a reconnect every watcher receives
/// `.resubscribed` and should catch up from the durable log (`run_events`).
public final class RedisSubscriber: Service, Sendable {
    /// What a watcher receives.
    public enum Message: Sendable, Equatable {
        /// A published payload.
        case message(ByteBuffer)
        /// The connection was re-established; messages published meanwhile were not delivered.
        case resubscribed
    }

    /// A confirmed subscription made with `subscribe(to:_:)`; `unsubscribe(_:)` ends it.
    public struct Subscription: Sendable, Hashable {
        public let channel: String
        let id: UInt64
    }

    /// A watcher's callbacks, called on the connection's event loop: keep them short (hand the message on).
    private struct Watcher {
        let deliver: @Sendable (Message) -> Void
        /// The subscriber stopped for good.
        let stopped: @Sendable () -> Void
    }

    private struct Registry {
        var connection: RedisConnection?
        var watchers: [String: [UInt64: Watcher]] = [:]
        var nextID: UInt64 = 0
    }

    private let endpoint: RedisEndpoint
    private let options: RedisClient.Options
    private let logger: Logger
    private let registry = Mutex(Registry())
    private let pingInterval: Duration

    public init(endpoint: RedisEndpoint, options: RedisClient.Options = .init(), pingInterval: Duration = .seconds(5), logger: Logger) {
        self.endpoint = endpoint
        self.options = options
        self.pingInterval = pingInterval
        self.logger = logger
    }

    /// Number of channels with at least one watcher.
    public var channelCount: Int { registry.withLock { $0.watchers.count } }

    /// Subscribes to `channel` for the duration of `body`; the subscription is confirmed before `body` starts.
    /// The stream ends when the subscriber stops.
    ///
    /// - Throws: `RedisError` when Redis is unreachable, so a caller never believes it is subscribed when it is not.
    public func withSubscription<T: Sendable>(
        to channel: String,
        _ body: (AsyncStream<Message>) async throws -> T
    ) async throws -> T {
        let (stream, continuation) = AsyncStream<Message>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let subscription = try await subscribe(to: channel, stopped: { continuation.finish() }) { continuation.yield($0) }
        defer {
            unsubscribe(subscription)
            continuation.finish()
        }
        return try await body(stream)
    }

    /// Calls `deliver` with every message on `channel` (and `.resubscribed` after a reconnect) until `unsubscribe`;
    /// returns once Redis confirmed the subscription. Many watchers of one process share one subscriber connection
    /// and need no task or stream of their own: a WebSocket session funnels all its runs' messages into one stream.
    ///
    /// `deliver` and `stopped` run on the connection's event loop, so they must only hand the message on.
    ///
    /// - Throws: `RedisError` when Redis is unreachable.
    public func subscribe(
        to channel: String,
        stopped: @escaping @Sendable () -> Void = {},
        _ deliver: @escaping @Sendable (Message) -> Void
    ) async throws -> Subscription {
        let (subscription, confirmation) = try registry.withLock { registry -> (Subscription, EventLoopFuture<[RedisValue]>) in
            guard let connection = registry.connection, connection.isActive else {
                throw RedisError(.unavailable, "subscriber is not connected")
            }
            let id = registry.nextID
            registry.nextID += 1
            registry.watchers[channel, default: [:]][id] = Watcher(deliver: deliver, stopped: stopped)
            // SUBSCRIBE for every watcher (Redis ignores repeats), so each one waits for its own confirmation.
            return (
                Subscription(channel: channel, id: id), connection.enqueue([["SUBSCRIBE", RedisArgument(channel)]], timeout: options.commandTimeout)
            )
        }
        do {
            _ = try await confirmation.get()
        } catch {
            unsubscribe(subscription)
            throw error
        }
        return subscription
    }

    /// Ends a subscription; the channel is unsubscribed when its last watcher leaves. Ending one twice is harmless.
    public func unsubscribe(_ subscription: Subscription) {
        let channel = subscription.channel
        registry.withLock { registry in
            guard registry.watchers[channel]?.removeValue(forKey: subscription.id) != nil else { return }
            if registry.watchers[channel]?.isEmpty == true {
                registry.watchers[channel] = nil
                // Written under the lock, so it cannot overtake a later watcher's SUBSCRIBE.
                _ = registry.connection?.enqueue([["UNSUBSCRIBE", RedisArgument(channel)]], timeout: options.commandTimeout)
            }
        }
    }

    private func deliver(_ push: RedisValue) {
        guard let elements = push.array, elements.count >= 3,
            let channel = elements[elements.count - 2].string,
            case .bulkString(let payload) = elements[elements.count - 1]
        else { return }
        registry.withLock { registry in
            for watcher in registry.watchers[channel, default: [:]].values { watcher.deliver(.message(payload)) }
        }
    }

    /// Keeps the subscriber connection up until the task is cancelled or the service shuts down.
    public func run() async throws {
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let connection = try await RedisConnection.connect(to: endpoint, connectTimeout: options.connectTimeout) {
                    [weak self] push in self?.deliver(push)
                }
                failures = 0
                try await resubscribeAll(on: connection)
                await cancelWhenGracefulShutdown { [pingInterval] in
                    await withTaskCancellationHandler {
                        await Self.keepAlive(connection, every: pingInterval)
                    } onCancel: {
                        connection.close()
                    }
                }
                registry.withLock { $0.connection = nil }
                connection.close()
            } catch {
                failures += 1
                if endpoint.tls != nil && failures == 1 {
                    logger.warning("Redis subscriber TLS connection failed", metadata: [LogKey.error: "\(error)"])
                } else {
                    logger.debug("Redis subscriber reconnecting", metadata: ["error": "\(error)"])
                }
                let delay = min(options.initialBackoff * (1 << min(failures, 16)), options.maximumBackoff)
                try? await Task.sleep(for: delay)
            }
        }
        let stopped = registry.withLock { registry in
            let watchers = registry.watchers.values.flatMap(\.values)
            registry.watchers = [:]
            registry.connection = nil
            return watchers
        }
        for watcher in stopped { watcher.stopped() }
    }

    private func resubscribeAll(on connection: RedisConnection) async throws {
        let (channels, confirmation) = registry.withLock { registry -> ([String], EventLoopFuture<[RedisValue]>?) in
            registry.connection = connection
            let channels = Array(registry.watchers.keys)
            guard !channels.isEmpty else { return (channels, nil) }
            return (channels, connection.enqueue(channels.map { ["SUBSCRIBE", RedisArgument($0)] }, timeout: options.commandTimeout))
        }
        _ = try await confirmation?.get()
        guard !channels.isEmpty else { return }
        registry.withLock { registry in
            for channel in channels { for watcher in registry.watchers[channel, default: [:]].values { watcher.deliver(.resubscribed) } }
        }
    }

    /// Returns when the connection closes; pings meanwhile, so a silently dead socket is noticed.
    private static func keepAlive(_ connection: RedisConnection, every interval: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await connection.waitUntilClosed() }
            group.addTask { await ping(connection, every: interval) }
            await group.next()
            group.cancelAll()
            connection.close()
        }
    }

    private static func ping(_ connection: RedisConnection, every interval: Duration) async {
        while !Task.isCancelled && connection.isActive {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            do { _ = try await connection.pipeline([["PING"]], timeout: .seconds(3)) } catch { return }
        }
    }
}
