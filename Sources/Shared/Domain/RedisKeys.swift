/// Every Redis key and channel name Netra uses, derived from one prefix so deployments and tests can share a server.
public struct RedisKeys: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "netra") { self.prefix = prefix }

    /// The work stream the gateway XADDs to and workers read from.
    public var runStream: String { "\(prefix):runs" }
    /// Runs recovered from crashed workers: workers read it before `runStream`, so a recovered run does not wait
    /// behind the whole backlog.
    public var recoveryStream: String { "\(prefix):runs:recovered" }
    /// The streams workers read, in priority order.
    public var workStreams: [String] { [recoveryStream, runStream] }
    /// The consumer group of the workers on `runStream`.
    public var workerGroup: String { "workers" }
    /// The pub/sub channel carrying one run's events.
    public func runEvents(_ run: RunID) -> String { "\(prefix):run:\(run):events" }
    /// Runs that were delivered too often (poison messages), for inspection.
    public var deadLetterStream: String { "\(prefix):runs:dead" }
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
    /// Failed logins in the current window, by email or by client address.
    public func loginFailures(_ kind: String, _ value: String) -> String { "\(prefix):auth:failures:\(kind):\(value)" }
}
