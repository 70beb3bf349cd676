import Crypto
import Foundation
import HTTPTypes
import Logging
import Shared

/// API keys: `nk_<prefix>_<secret>`, shown once. The prefix finds the row; the secret is checked against its
/// SHA-256 (a key is 32 random bytes, so a slow password hash adds nothing), compared in constant time.
struct APIKeys: Sendable {
    let identities: IdentityStore

    /// A new key, its public prefix and the hash to store.
    static func generate() -> (key: String, prefix: String, hash: String) {
        var generator = SystemRandomNumberGenerator()
        let prefix = String((0..<12).map { _ in alphabet.randomElement(using: &generator)! })
        let secret = String((0..<43).map { _ in alphabet.randomElement(using: &generator)! })
        return ("nk_\(prefix)_\(secret)", prefix, hash(secret))
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func looksLikeKey(_ token: String) -> Bool { token.hasPrefix("nk_") }

    /// The identity a key grants; 401 for a malformed, unknown or revoked key.
    func identity(for key: String, logger: Logger) async throws -> Identity {
        let parts = key.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "nk", parts[1].count == 12, !parts[2].isEmpty, key.utf8.count <= 128 else {
            throw NetraError.unauthorized
        }
        guard let owner = try await identities.keyOwner(prefix: String(parts[1]), logger: logger),
            Self.constantTimeEquals(Array(Self.hash(String(parts[2])).utf8), Array(owner.keyHash.utf8))
        else { throw NetraError.unauthorized }
        try await identities.markUsed(key: owner.keyID, logger: logger)
        return Identity(tenantID: owner.tenantID, userID: owner.userID, role: owner.role, apiKeyID: owner.keyID)
    }

    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// What Redis enforces for the gateway: logged-out tokens, per-tenant rate limits and failed-login limits.
///
/// While Redis is unreachable these checks let requests through (logged): submissions must keep working without
/// Redis (runs are durable in PostgreSQL), and access tokens are short-lived.
struct AccessGuard: Sendable {
    let redis: RedisClient
    let keys: RedisKeys
    let limits: RateLimits
    let limiter: RateLimiter
    let policies: TenantPolicies

    init(redis: RedisClient, keys: RedisKeys, limits: RateLimits, policies: TenantPolicies) {
        self.redis = redis
        self.keys = keys
        self.limits = limits
        self.limiter = RateLimiter(redis: redis)
        self.policies = policies
    }

    /// A per-second override as a bucket (burst twice the rate), or the default.
    private static func limit(_ override: Int?, default limit: RateLimiter.Limit) -> RateLimiter.Limit {
        override.map { RateLimiter.Limit(perSecond: Double($0), burst: $0 * 2) } ?? limit
    }

    /// Denylists the token until it would have expired.
    func revoke(_ identity: Identity) async throws {
        guard let jti = identity.tokenID, let expiresAt = identity.expiresAt else { return }
        let milliseconds = max(1, Int(expiresAt.timeIntervalSinceNow * 1000))
        try await redis.send(["SET", RedisArgument(keys.revokedToken(jti)), "1", "PX", RedisArgument(milliseconds)])
    }

    /// One round trip per request: 401 when the token was logged out, 429 when the tenant's request bucket (and,
    /// for a submission, its run bucket) is empty; 403 for a submission of a suspended tenant.
    func admitRequest(_ identity: Identity, includingRun: Bool = false, logger: Logger) async throws {
        let policy = try await policies.policy(identity.tenantID, logger: logger)
        guard let policy else { throw NetraError.unauthorized }  // the tenant is gone
        var buckets = [(key: keys.rateLimit(identity.tenantID, "api"), limit: Self.limit(policy.requestsPerSecond, default: limits.requests))]
        if includingRun {
            try Self.refuseIfSuspended(policy)
            buckets.append((keys.rateLimit(identity.tenantID, "runs"), Self.limit(policy.runsPerSecond, default: limits.runs)))
        }
        try await admit(buckets, denylistKey: identity.tokenID.map(keys.revokedToken), what: includingRun ? "requests or runs" : "requests", logger: logger)
    }

    /// 403 for a suspended tenant; otherwise takes a token from its run-submission bucket (429 when empty). A
    /// request whose run token the middleware already took passes.
    func admitRun(_ identity: Identity, logger: Logger) async throws {
        guard !identity.runAdmitted else { return }
        let policy = try await policies.policy(identity.tenantID, logger: logger)
        guard let policy else { throw NetraError.unauthorized }
        try Self.refuseIfSuspended(policy)
        try await admit(
            [(keys.rateLimit(identity.tenantID, "runs"), Self.limit(policy.runsPerSecond, default: limits.runs))], denylistKey: nil,
            what: "run submissions", logger: logger
        )
    }

    /// Starting single sign-on: 2 a second per client address, bursts of 20 (429 beyond), since each start stores a
    /// pending sign-in in Redis for ten minutes.
    func admitSignIn(address: String?, logger: Logger) async throws {
        try await admit(
            [(keys.signInRateLimit(address ?? "unknown"), RateLimiter.Limit(perSecond: 2, burst: 20))], denylistKey: nil,
            what: "sign-ins", logger: logger
        )
    }

    private static func refuseIfSuspended(_ policy: TenantPolicy) throws {
        if policy.isSuspended { throw NetraError(.tenantSuspended, .forbidden, "the tenant is suspended; no new runs are accepted") }
    }

    private func admit(_ buckets: [(key: String, limit: RateLimiter.Limit)], denylistKey: String?, what: String, logger: Logger) async throws {
        let decision: RateLimiter.Decision
        do {
            decision = try await limiter.take(buckets, denylistKey: denylistKey)
        } catch {
            logger.warning("Rate limiting failed; allowing the request", metadata: [LogKey.error: "\(error)"])
            return
        }
        switch decision {
        case .allowed: return
        case .denied: throw NetraError.unauthorized
        case .limited(let wait): throw NetraError.rateLimited("too many \(what) for this tenant; retry later", retryAfterMilliseconds: wait)
        }
    }
    /// 429 when the email or the address has failed too often in the current window.
    func checkLogin(email: String, address: String?, logger: Logger) async throws {
        for (key, limit) in loginKeys(email: email, address: address) {
            do {
                let replies = try await redis.pipeline([["GET", RedisArgument(key)], ["PTTL", RedisArgument(key)]])
                let failures = replies.first?.string.flatMap { Int($0) } ?? replies.first?.int ?? 0
                if failures >= limit {
                    let wait = max(replies.last?.int ?? 1000, 1000)
                    throw NetraError.rateLimited("too many failed logins; retry later", retryAfterMilliseconds: wait)
                }
            } catch let error as NetraError {
                throw error
            } catch {
                logger.warning("Checking failed logins failed; allowing the attempt", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    /// Counts a failed login against the email and the address.
    func recordLoginFailure(email: String, address: String?, logger: Logger) async {
        let window = RedisArgument(Int(limits.loginWindow.components.seconds * 1000))
        let commands: [[RedisArgument]] = loginKeys(email: email, address: address).flatMap { key, _ -> [[RedisArgument]] in
            [["INCR", RedisArgument(key)], ["PEXPIRE", RedisArgument(key), window, "NX"]]
        }
        do {
            _ = try await redis.pipeline(commands)
        } catch {
            logger.warning("Counting a failed login failed", metadata: [LogKey.error: "\(error)"])
        }
    }

    private func loginKeys(email: String, address: String?) -> [(String, Int)] {
        var keys = [(self.keys.loginFailures("email", APIKeys.hash(email.lowercased())), limits.loginFailuresPerEmail)]
        if let address { keys.append((self.keys.loginFailures("address", address), limits.loginFailuresPerAddress)) }
        return keys
    }
}
