/// Every Redis key and channel name Netra uses, derived from one prefix so deployments and tests can share a server.
public struct RedisKeys: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "netra") { self.prefix = prefix }

    /// The work stream the gateway XADDs to and workers read from.
    public var runStream: String { "\(prefix):runs" }
    /// The consumer group of the workers on `runStream`.
    public var workerGroup: String { "workers" }
    /// The pub/sub channel carrying one run's events.
    public func runEvents(_ run: RunID) -> String { "\(prefix):run:\(run):events" }
    /// The scheduler's leader lock.
    public var schedulerLeader: String { "\(prefix):scheduler:leader" }
}
