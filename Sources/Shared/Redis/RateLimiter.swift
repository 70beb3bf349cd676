/// Token buckets in Redis, so a limit holds across gateway replicas. One script per check: refill by elapsed time
/// (Redis's own clock, so replicas' clocks do not matter), take a token if there is one, or say how long until
/// there is.
public struct RateLimiter: Sendable {
    /// A bucket's shape: `perSecond` tokens refill each second, up to `burst`.
    public struct Limit: Sendable, Equatable {
        public var perSecond: Double
        public var burst: Int

        public init(perSecond: Double, burst: Int) {
            precondition(perSecond > 0 && burst > 0)
            self.perSecond = perSecond
            self.burst = burst
        }
    }

    /// The outcome of one check.
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Denied; a token is back after this many milliseconds.
        case limited(retryAfterMilliseconds: Int)
    }

    static let script = """
        local rate = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or burst
        local at = tonumber(state[2]) or now
        tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
        local allowed = 0
        local wait = 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        else
          wait = math.ceil((1 - tokens) * 1000 / rate)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
        return {allowed, wait}
        """

    let redis: RedisClient

    public init(redis: RedisClient) { self.redis = redis }

    /// Takes one token from the bucket at `key`.
    public func take(_ key: String, limit: Limit) async throws -> Decision {
        let reply = try await redis.send([
            "EVAL", RedisArgument(Self.script), "1", RedisArgument(key), RedisArgument(String(limit.perSecond)), RedisArgument(limit.burst),
        ])
        guard let parts = reply.array, parts.count == 2, let allowed = parts[0].int, let wait = parts[1].int else {
            throw RedisError(.unexpectedReply, "rate limit script replied \(reply)")
        }
        return allowed == 1 ? .allowed : .limited(retryAfterMilliseconds: wait)
    }
}
