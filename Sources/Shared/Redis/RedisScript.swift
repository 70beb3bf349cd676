import Synchronization

/// A Lua script that is sent to Redis once (`SCRIPT LOAD`) and then called by its SHA-1 (`EVALSHA`), reloading it when
/// Redis has forgotten it (a restart or `SCRIPT FLUSH`).
public final class RedisScript: Sendable {
    public let source: String
    private let loadedHash = Mutex<String?>(nil)

    public init(_ source: String) { self.source = source }

    /// Runs the script once.
    public func run(on redis: RedisClient, keys: [String], arguments: [RedisArgument]) async throws -> RedisValue {
        let reply = try await runAll(on: redis, [(keys, arguments)])[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// Runs the script once per call in one pipeline; a call's error comes back as its `.error` reply.
    public func runAll(on redis: RedisClient, _ calls: [(keys: [String], arguments: [RedisArgument])]) async throws -> [RedisValue] {
        guard !calls.isEmpty else { return [] }
        let commands = { (hash: String) in
            calls.map { call in
                ["EVALSHA", RedisArgument(hash), RedisArgument(call.keys.count)] + call.keys.map { RedisArgument($0) } + call.arguments
            }
        }
        let replies = try await redis.pipeline(commands(try await hash(on: redis)))
        guard replies.contains(where: Self.isNoScript) else { return replies }
        loadedHash.withLock { $0 = nil }
        return try await redis.pipeline(commands(try await hash(on: redis)))
    }

    private static func isNoScript(_ reply: RedisValue) -> Bool {
        if case .error(let message) = reply { message.hasPrefix("NOSCRIPT") } else { false }
    }

    private func hash(on redis: RedisClient) async throws -> String {
        if let hash = loadedHash.withLock({ $0 }) { return hash }
        guard let hash = try await redis.send(["SCRIPT", "LOAD", RedisArgument(source)]).string else {
            throw RedisError(.unexpectedReply, "SCRIPT LOAD gave no hash")
        }
        loadedHash.withLock { $0 = hash }
        return hash
    }
}
