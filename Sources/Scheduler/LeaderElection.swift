import Logging
import ServiceLifecycle
import Shared
import Synchronization

/// Leadership among scheduler replicas: a Redis lock with expiry (`SET key id NX PX ttl`), renewed by its holder
/// every third of the TTL with a compare-and-expire script. A standby retries at the same pace and takes over at
/// most one TTL plus one retry after the leader stops renewing. On graceful shutdown the leader releases the lock.
final class LeaderElection: Service, Sendable {
    private static let renewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end
        """
    private static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
        """

    let redis: RedisClient
    let key: String
    let instanceID: String
    let ttl: Duration
    let logger: Logger
    private let leading = Mutex(false)

    init(redis: RedisClient, key: String, instanceID: String, ttl: Duration, logger: Logger) {
        self.redis = redis
        self.key = key
        self.instanceID = instanceID
        self.ttl = ttl
        self.logger = logger
    }

    /// `true` while this replica holds the lock.
    var isLeader: Bool { leading.withLock { $0 } }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await attempt()
            try? await Task.sleep(for: ttl / 3)
        }
        if isLeader {
            _ = try? await redis.send(["EVAL", RedisArgument(Self.releaseScript), "1", RedisArgument(key), RedisArgument(instanceID)])
            leading.withLock { $0 = false }
            logger.info("Released scheduler leadership")
        }
    }

    /// One round: renew if leading, otherwise try to acquire.
    func attempt() async {
        let milliseconds = RedisArgument(Int(ttl.wholeMilliseconds))
        do {
            let wasLeader = isLeader
            let nowLeader: Bool
            if wasLeader {
                let reply = try await redis.send(["EVAL", RedisArgument(Self.renewScript), "1", RedisArgument(key), RedisArgument(instanceID), milliseconds])
                nowLeader = reply.int == 1
            } else {
                let reply = try await redis.send(["SET", RedisArgument(key), RedisArgument(instanceID), "NX", "PX", milliseconds])
                nowLeader = reply == .simpleString("OK")
            }
            leading.withLock { $0 = nowLeader }
            if nowLeader != wasLeader {
                logger.info(nowLeader ? "Became scheduler leader" : "Lost scheduler leadership", metadata: ["scheduler.instance": "\(instanceID)"])
            }
        } catch {
            // Without Redis we cannot know whether the lock still holds: stop acting as leader.
            leading.withLock { $0 = false }
            logger.warning("Leader election failed", metadata: [LogKey.error: "\(error)"])
        }
    }
}
