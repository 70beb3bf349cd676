import Foundation
import Logging
import Shared
import Synchronization

/// Tenants' policies (rate-limit overrides, suspension), cached per gateway for `ttl` so that the checks on every
/// request do not query PostgreSQL. A change made through this gateway applies at once; through another replica,
/// within `ttl`.
final class TenantPolicies: Sendable {
    let identities: IdentityStore
    let ttl: Duration
    private let cache = Mutex<[TenantID: (policy: TenantPolicy?, loaded: ContinuousClock.Instant)]>([:])

    init(identities: IdentityStore, ttl: Duration = .seconds(2)) {
        self.identities = identities
        self.ttl = ttl
    }

    /// The tenant's policy; `nil` for a tenant that does not exist (any more).
    func policy(_ tenant: TenantID, logger: Logger) async throws -> TenantPolicy? {
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[tenant] }), now - entry.loaded < ttl { return entry.policy }
        let policy = try await identities.policy(tenant, logger: logger)
        cache.withLock { $0[tenant] = (policy, now) }
        return policy
    }

    /// Forgets the cached policy (after this gateway changed it).
    func invalidate(_ tenant: TenantID) {
        _ = cache.withLock { $0.removeValue(forKey: tenant) }
    }
}
