import Logging
import NIOCore
import NIOPosix

/// Where a Redis server listens, parsed from a `redis://[:password@]host[:port][/db]` URL, or `rediss://…` for TLS.
public struct RedisEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int
    /// TLS settings; `nil`: plaintext. Set for every `rediss://` URL, and then never dropped.
    public var tls: RedisTLS?

    public init(host: String = "127.0.0.1", port: Int = 6379, password: String? = nil, database: Int = 0, tls: RedisTLS? = nil) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a `redis://` or `rediss://` URL; returns `nil` when it is neither. A `rediss://` endpoint verifies the
    /// server against the system's trust store until its `tls` says otherwise.
    public init?(url: String) {
        guard let parsed = ServiceURL(url), parsed.scheme == "redis" || parsed.scheme == "rediss" else { return nil }
        self.host = parsed.host
        self.port = parsed.port ?? 6379
        self.password = parsed.password
        self.tls = parsed.scheme == "rediss" ? RedisTLS() : nil
        let path = parsed.path.drop { $0 == "/" }
        if path.isEmpty {
            self.database = 0
        } else if let database = Int(path), database >= 0 {
            self.database = database
        } else {
            return nil
        }
    }
}

/// One TCP connection to Redis with hiredis as its codec. Commands written concurrently are pipelined.
///
/// A connection that fails stays failed: every later command throws `connectionClosed`. `RedisClient` replaces it.
public final class RedisConnection: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Opens a connection, authenticates and selects the database.
    ///
    /// For a `rediss://` endpoint the TLS handshake (with the server's certificate verified) completes before this
    /// returns, and a first command is answered, so that a refused client certificate surfaces here too.
    ///
    /// - Parameter onPush: For a subscriber connection, receives every pushed `message` reply.
    public static func connect(
        to endpoint: RedisEndpoint,
        connectTimeout: Duration = .seconds(3),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onPush: (@Sendable (RedisValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let eventLoop = eventLoopGroup.next()
        let tls = try endpoint.tls.map { try RedisTLSSession(endpoint: endpoint, tls: $0, eventLoop: eventLoop) }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(connectTimeout.wholeMilliseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // TLS first: the codec below reads and writes plaintext through it.
                    if let tls { try tls.addHandlers(to: channel.pipeline.syncOperations) }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            tls?.abandon(error)
            throw RedisError(.unavailable, "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        try await tls?.waitForHandshake(on: channel, timeout: connectTimeout)
        let connection = RedisConnection(channel: channel)
        do {
            try await connection.prepare(for: endpoint)
        } catch let error as RedisError where endpoint.tls != nil && error.isConnectionFailure {
            connection.close()
            let reason = TLSFailure.explain(text: error.message, expectedName: endpoint.tls?.expectedHostname(for: endpoint.host) ?? endpoint.host)
            throw RedisError(.unavailable, "TLS session with redis \(endpoint.host):\(endpoint.port) failed: \(reason)")
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// AUTH and SELECT as the endpoint asks; over TLS at least a PING, since a server that refuses the client
    /// certificate says so only after the handshake (TLS 1.3).
    private func prepare(for endpoint: RedisEndpoint) async throws {
        if let password = endpoint.password {
            _ = try await send(["AUTH", RedisArgument(password)])
        }
        if endpoint.database != 0 {
            _ = try await send(["SELECT", RedisArgument(endpoint.database)])
        }
        if endpoint.tls != nil && endpoint.password == nil && endpoint.database == 0 {
            _ = try await send(["PING"])
        }
    }

    /// `false` once the connection has closed or failed.
    public var isActive: Bool { channel.isActive }

    /// Sends one command and returns its reply; an error reply is thrown as `RedisError.server`.
    @discardableResult
    public func send(_ command: [RedisArgument], timeout: Duration = .seconds(5)) async throws -> RedisValue {
        let replies = try await pipeline([command], timeout: timeout)
        if case .error(let message) = replies[0] { throw RedisError(.server, message) }
        return replies[0]
    }

    /// Sends several commands in one write and returns their replies in order.
    ///
    /// Error replies are returned as `.error` values so one failing command does not hide the others' results.
    public func pipeline(_ commands: [[RedisArgument]], timeout: Duration = .seconds(5)) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        return try await enqueue(commands, timeout: timeout).get()
    }

    /// Writes commands at once, in call order, and returns the future of their replies.
    ///
    /// Synchronous so that a caller holding a lock can order its writes with its own state changes.
    func enqueue(_ commands: [[RedisArgument]], timeout: Duration) -> EventLoopFuture<[RedisValue]> {
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { RedisCommandEncoder.encode(command, into: &buffer) }
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        let request = RedisRequest(encoded: buffer, replyCount: commands.count, promise: promise)
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(timeout.wholeMilliseconds)) {
            channel.triggerUserOutboundEvent(RedisDeadlineExceeded(), promise: nil)
        }
        channel.writeAndFlush(request).whenFailure { error in
            promise.fail(error as? RedisError ?? RedisError(.connectionClosed, "\(error)"))
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        return promise.futureResult
    }

    /// Returns when the connection has closed.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// Closes the connection; pending commands fail with `connectionClosed`.
    public func close() {
        channel.close(promise: nil)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
