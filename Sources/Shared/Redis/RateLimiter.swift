/// Token buckets in Redis, so a limit holds across gateway replicas. One script per check refills the buckets by
/// elapsed time (Redis's own clock, so replicas' clocks do not matter) and takes a token from each only if every
/// one has a token; otherwise it says how long until they do. The same round trip can check a denylist key first.
/// The script is sent once (`SCRIPT LOAD`) and then called by its hash.
public final class RateLimiter: Sendable {
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
        /// Denied; a token is back after this many milliseconds. No token was taken.
        case limited(retryAfterMilliseconds: Int)
        /// The denylist key exists.
        case denied
    }

    /// KEYS[1]: a denylist key (checked with EXISTS); KEYS[2…]: buckets; ARGV: rate and burst per bucket.
    static let script = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, 0} end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local levels = {}
        local wait = 0
        for i = 2, #KEYS do
          local rate = tonumber(ARGV[2 * i - 3])
          local burst = tonumber(ARGV[2 * i - 2])
          local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
          local tokens = tonumber(state[1]) or burst
          local at = tonumber(state[2]) or now
          tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
          levels[i] = tokens
          if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate)) end
        end
        local allowed = wait == 0
        for i = 2, #KEYS do
          local rate = tonumber(ARGV[2 * i - 3])
          local burst = tonumber(ARGV[2 * i - 2])
          local tokens = levels[i]
          if allowed then tokens = tokens - 1 end
          redis.call('HSET', KEYS[i], 'tokens', tostring(tokens), 'at', now)
          redis.call('PEXPIRE', KEYS[i], math.ceil(burst * 1000 / rate) + 1000)
        end
        if allowed then return {1, 0} end
        return {0, wait}
        """

    let redis: RedisClient
    private let bucketScript = RedisScript(RateLimiter.script)

    public init(redis: RedisClient) { self.redis = redis }

    /// Checks `denylistKey` (when given), then takes one token from every bucket, or from none.
    public func take(_ buckets: [(key: String, limit: Limit)], denylistKey: String? = nil) async throws -> Decision {
        // A key under the limiter's own namespace that is never set stands in when there is nothing to deny.
        let keys = [denylistKey ?? "netra:ratelimit:nothing-denied"] + buckets.map(\.key)
        let arguments = buckets.flatMap { [RedisArgument(String($0.limit.perSecond)), RedisArgument($0.limit.burst)] }
        let reply = try await bucketScript.run(on: redis, keys: keys, arguments: arguments)
        guard let parts = reply.array, parts.count == 2, let outcome = parts[0].int, let wait = parts[1].int else {
            throw RedisError(.unexpectedReply, "rate limit script replied \(reply)")
        }
        switch outcome {
        case 1: return .allowed
        case -1: return .denied
        default: return .limited(retryAfterMilliseconds: wait)
        }
    }
}
