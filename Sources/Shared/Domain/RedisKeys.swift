/// Every Redis key and channel name Netra uses, derived from one prefix so deployments and tests can share a server.
public struct RedisKeys: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "netra") { self.prefix = prefix }

    /// The work stream of `normal` runs: admitted runs enter it (or their priority's stream) and workers read it.
    public var runStream: String { "\(prefix):runs" }
    /// The work stream of admitted runs of `priority`.
    public func runStream(_ priority: RunPriority) -> String {
        switch priority {
        case .high: "\(prefix):runs:high"
        case .normal: runStream
        case .low: "\(prefix):runs:low"
        }
    }
    /// The priority streams, highest first.
    public var priorityStreams: [String] { RunPriority.allCases.map(runStream) }
    /// Runs recovered from crashed workers: workers read it before the others, so a recovered run does not wait
    /// behind the whole backlog.
    public var recoveryStream: String { "\(prefix):runs:recovered" }
    /// Every stream workers read, recovery first, then by priority.
    public var workStreams: [String] { [recoveryStream] + priorityStreams }
    // Admission (see `Admission`): the scripts build these same names from the prefix, so keep the two in step.
    /// A tenant's admitted runs (in a work stream, running, or waiting for a retry): a set of run ids whose size is
    /// held to the tenant's in-flight limit.
    public func tenantActive(_ tenant: TenantID) -> String { "\(prefix):tenant:\(tenant):active" }
    /// A tenant's runs waiting for a slot: a sorted set of `run|attempt|priority` scored by when they may go.
    public func tenantBacklog(_ tenant: TenantID) -> String { "\(prefix):tenant:\(tenant):backlog" }
    /// Per-tenant in-flight limits that override the configured default (a hash of tenant id → limit).
    public var tenantLimits: String { "\(prefix):tenants:max_in_flight" }
    /// Tenants with admitted or waiting runs (a set), for the reconciler and the queue statistics.
    public var busyTenants: String { "\(prefix):tenants:busy" }
    /// Tenants that may start a run now (waiting runs, room under their limit), one sorted set per priority of their
    /// best waiting run, scored by when they were last served: the least recently served goes next.
    public func readyTenants(_ priority: RunPriority) -> String { "\(prefix):admission:ready:\(priority.rank)" }
    /// How many runs are admitted across all tenants (the sum of the `tenantActive` sets).
    public var admittedCount: String { "\(prefix):admission:admitted" }
    /// How many runs may be admitted across all tenants: the live workers' slots plus a little headroom.
    public var admissionCapacity: String { "\(prefix):admission:capacity" }
    /// Live workers: a sorted set of consumer names scored by when their registration expires, and a hash of their
    /// concurrency.
    public var workersAlive: String { "\(prefix):workers:alive" }
    public var workersConcurrency: String { "\(prefix):workers:concurrency" }
    /// How many runs released their slot (ended) in one second of Redis's clock; each key lives two minutes. The
    /// release script counts, so the figure costs no extra round trip.
    public func finishedInSecond(_ second: Int) -> String { "\(prefix):stats:finished:\(second)" }
    /// A single sign-on in progress: its tenant, nonce and PKCE verifier, keyed by the `state` sent to the issuer; read
    /// and deleted at once by the callback, so a state (and with it a code) is good for one sign-in.
    public func oidcLogin(_ state: String) -> String { "\(prefix):oidc:login:\(state)" }
    /// The consumer group of the workers on `runStream`.
    public var workerGroup: String { "workers" }
    /// The pub/sub channel carrying one run's events.
    public func runEvents(_ run: RunID) -> String { "\(prefix):run:\(run):events" }
    /// Runs that were delivered too often (poison messages), for inspection.
    public var deadLetterStream: String { "\(prefix):runs:dead" }
    /// Delayed runs (`run_at`, `delay_seconds`) waiting for their time: a sorted set of `tenant|run|attempt|priority`
    /// scored by due time in milliseconds; the scheduler admits them when due.
    public var scheduledRuns: String { "\(prefix):runs:scheduled" }
    /// The sorted set of entries waiting for their due time (retry backoff), scored by due time in milliseconds.
    public var delayedSet: String { "\(prefix):runs:delayed" }
    /// The control channel: cancellation requests carry the run id.
    public var control: String { "\(prefix):control" }
    /// The scheduler's leader lock.
    public var schedulerLeader: String { "\(prefix):scheduler:leader" }
    /// A logged-out access token's `jti`, kept until the token would have expired.
    public func revokedToken(_ jti: String) -> String { "\(prefix):auth:revoked:\(jti)" }
    /// A tenant's token bucket for one kind of request (`runs`, `api`).
    public func rateLimit(_ tenant: TenantID, _ bucket: String) -> String { "\(prefix):ratelimit:\(tenant):\(bucket)" }
    /// The token bucket of single sign-on starts from one client address.
    public func signInRateLimit(_ address: String) -> String { "\(prefix):ratelimit:signin:\(address)" }
    /// Failed logins in the current window, by email or by client address.
    public func loginFailures(_ kind: String, _ value: String) -> String { "\(prefix):auth:failures:\(kind):\(value)" }
}
