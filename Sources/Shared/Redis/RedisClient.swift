import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

/// A Redis connection that reconnects with exponential backoff.
///
/// One client is one connection, used for one role: shared pipelined commands, one blocking consumer
/// loop, or (through `RedisSubscriber`) pub/sub. When the connection fails, the commands in flight throw a
/// typed `RedisError`; the next command reconnects, unless the client is still backing off from a failed
/// attempt, in which case it throws `.unavailable` at once instead of hanging.
public final class RedisClient: Sendable {
    /// Reconnection and timeout settings.
    public struct Options: Sendable {
        /// Deadline for one command's reply (blocking commands add their own block time).
        public var commandTimeout: Duration = .seconds(5)
        /// Deadline for establishing a connection.
        public var connectTimeout: Duration = .seconds(3)
        /// First delay after a failed connection attempt; doubles up to `maximumBackoff`.
        public var initialBackoff: Duration = .milliseconds(50)
        /// Longest delay between connection attempts.
        public var maximumBackoff: Duration = .seconds(2)

        public init() {}
    }

    private enum State {
        case idle
        case connecting(Task<RedisConnection, any Error>)
        case connected(RedisConnection)
        case backingOff(until: ContinuousClock.Instant, lastError: RedisError)
    }

    public let endpoint: RedisEndpoint
    public let options: Options
    private let logger: Logger
    private let state = Mutex<State>(.idle)
    private let consecutiveFailures = Mutex<Int>(0)

    public init(endpoint: RedisEndpoint, options: Options = .init(), logger: Logger) {
        self.endpoint = endpoint
        self.options = options
        self.logger = logger
    }

    /// Sends one command; an error reply throws `RedisError.server`.
    @discardableResult
    public func send(_ command: [RedisArgument], timeout: Duration? = nil) async throws -> RedisValue {
        let connection = try await connection()
        let started = ContinuousClock.now
        let reply = try await run(on: connection) { try await $0.send(command, timeout: timeout ?? options.commandTimeout) }
        // A caller's own timeout marks a blocking read, whose wait is not a round trip.
        if timeout == nil { NetraMetric.redisTimer.record(duration: ContinuousClock.now - started) }
        return reply
    }

    /// Sends commands in one write; replies come back in order, error replies as `.error` values.
    public func pipeline(_ commands: [[RedisArgument]], timeout: Duration? = nil) async throws -> [RedisValue] {
        let connection = try await connection()
        let started = ContinuousClock.now
        let replies = try await run(on: connection) { try await $0.pipeline(commands, timeout: timeout ?? options.commandTimeout) }
        NetraMetric.redisTimer.record(duration: ContinuousClock.now - started)
        return replies
    }

    /// Closes the connection; a later command reconnects.
    public func close() {
        let current = state.withLock { state -> RedisConnection? in
            defer { state = .idle }
            if case .connected(let connection) = state { return connection }
            return nil
        }
        current?.close()
    }

    private func run<T>(on connection: RedisConnection, _ body: (RedisConnection) async throws -> T) async throws -> T {
        do {
            return try await body(connection)
        } catch let error as RedisError where error.isConnectionFailure {
            dropConnection(connection)
            throw error
        }
    }

    private func dropConnection(_ connection: RedisConnection) {
        state.withLock { state in
            if case .connected(let current) = state, current === connection { state = .idle }
        }
        connection.close()
    }

    /// The live connection, connecting first when there is none.
    func connection() async throws -> RedisConnection {
        let next = state.withLock { state -> Result<Task<RedisConnection, any Error>, RedisError>? in
            switch state {
            case .connected(let connection) where connection.isActive:
                return nil
            case .connecting(let task):
                return .success(task)
            case .backingOff(let until, let lastError) where ContinuousClock.now < until:
                return .failure(RedisError(.unavailable, "backing off after: \(lastError.message)"))
            default:
                // One attempt shared by every caller that arrives while it runs; it ends on its own
                // (connect timeout), so it needs no parent to cancel it.
                let task = Task { try await self.connect() }
                state = .connecting(task)
                return .success(task)
            }
        }
        switch next {
        case nil:
            return try state.withLock { state in
                if case .connected(let connection) = state { return connection }
                throw RedisError(.connectionClosed, "connection replaced")
            }
        case .failure(let error):
            throw error
        case .success(let task):
            return try await task.value
        }
    }

    private func connect() async throws -> RedisConnection {
        do {
            let connection = try await RedisConnection.connect(to: endpoint, connectTimeout: options.connectTimeout)
            state.withLock { $0 = .connected(connection) }
            consecutiveFailures.withLock { $0 = 0 }
            logger.debug("Connected to Redis", metadata: ["redis.host": "\(endpoint.host):\(endpoint.port)"])
            return connection
        } catch {
            let redisError = error as? RedisError ?? RedisError(.unavailable, "\(error)")
            let failures = consecutiveFailures.withLock { count in
                count += 1
                return count
            }
            let delay = min(options.initialBackoff * (1 << min(failures - 1, 16)), options.maximumBackoff)
            state.withLock { $0 = .backingOff(until: .now + delay, lastError: redisError) }
            if endpoint.tls != nil && failures == 1 {
                // A TLS failure is usually configuration (CA, name, client certificate): say it once per streak.
                logger.warning("Redis TLS connection failed", metadata: [LogKey.error: "\(redisError.message)"])
            } else {
                logger.debug("Redis connection failed", metadata: ["error": "\(redisError)"])
            }
            throw redisError
        }
    }
}
