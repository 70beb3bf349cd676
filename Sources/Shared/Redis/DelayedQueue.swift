import Foundation

/// Stream entries waiting for a due time: a sorted set scored by due time (milliseconds since 1970), moved into a
/// stream atomically by one Lua script. Retry backoff uses it, moving due retries into the recovery stream so that a
/// run already under way does not queue behind the backlog of new ones.
public struct DelayedQueue: Sendable {
    let redis: RedisClient
    let keys: RedisKeys

    public init(redis: RedisClient, keys: RedisKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// Moves up to ARGV[2] members due by ARGV[1] into the stream; one script, so an entry is never in both or neither.
    static let promoteScript = """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        for _, member in ipairs(due) do
          local run, tenant, attempt = string.match(member, '^([^|]+)|([^|]+)|([^|]+)$')
          if run then redis.call('XADD', KEYS[2], '*', 'run', run, 'tenant', tenant, 'attempt', attempt) end
          redis.call('ZREM', KEYS[1], member)
        end
        return #due
        """

    /// The `ZADD` that schedules `entry` for `due`, for callers that pipeline it.
    public func scheduleCommand(_ entry: RunStreamEntry, at due: Date) -> [RedisArgument] {
        ["ZADD", RedisArgument(keys.delayedSet), RedisArgument(String(Int64(due.timeIntervalSince1970 * 1000))), RedisArgument(Self.member(entry))]
    }

    /// Schedules `entry` to enter the stream at `due`.
    public func schedule(_ entry: RunStreamEntry, at due: Date) async throws {
        try await redis.send(scheduleCommand(entry, at: due))
    }

    /// Moves every entry due by `now` into the stream; returns how many moved.
    @discardableResult
    public func promoteDue(now: Date = Date(), batch: Int = 500) async throws -> Int {
        var moved = 0
        while true {
            let reply = try await redis.send([
                "EVAL", RedisArgument(Self.promoteScript), "2", RedisArgument(keys.delayedSet), RedisArgument(keys.recoveryStream),
                RedisArgument(String(Int64(now.timeIntervalSince1970 * 1000))), RedisArgument(batch),
            ])
            let count = reply.int ?? 0
            moved += count
            if count < batch { return moved }
        }
    }

    /// Entries waiting.
    public func count() async throws -> Int {
        try await redis.send(["ZCARD", RedisArgument(keys.delayedSet)]).int ?? 0
    }

    static func member(_ entry: RunStreamEntry) -> String {
        "\(entry.runID)|\(entry.tenantID)|\(entry.attempt)"
    }
}
