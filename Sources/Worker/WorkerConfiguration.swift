import Foundation
import Shared

/// A worker process's settings.
///
/// - Configuration keys: the shared ones (`ServiceConfiguration`), plus `http.host` and `http.port` (where `/health`
///   and `/metrics` are served; only when a port is set), `worker.concurrency` (runs executed at once,
///   default 16), `worker.event.loops` (NIO event-loop threads, default 1), `heartbeat.interval` (seconds between
///   lease renewals, default 3) and `lease.duration` (seconds a claim stays valid without renewal, default 10; the
///   scheduler's reaper uses the same value), and the optional LLM's `llm.base.url`, `llm.api.key`, `llm.model` and
///   `llm.timeout` (``LLMConfiguration``).
struct WorkerConfiguration: Sendable {
    var service: ServiceConfiguration
    var concurrency: Int
    /// Threads of the process's NIO event loop group. A worker's I/O is a handful of connections (its PostgreSQL pool
    /// and three to Redis) while its runs execute on Swift's cooperative pool, one thread per core: a second loop
    /// thread only competed with that pool for the cores. `scripts/bench fairness` (10 ms stages), nine alternating
    /// pairs: B's flooded p90 13.6-14.5 ms with one thread against 16.6-19.5 ms with two; throughput unchanged.
    var eventLoops = 1
    var heartbeatInterval: Duration
    var leaseDuration: Duration
    /// This process's consumer name in the group: host name and process id, unique per process.
    var consumerName: String
    /// The first retry's backoff ceiling (`retry.delay`, seconds, default 1); it doubles per retry.
    var retryBaseDelay: Duration = .seconds(1)
    /// How long one XREADGROUP blocks before the loop checks for shutdown.
    var readBlock: Duration = .seconds(2)
    /// The optional LLM; `nil` (the default) keeps triage and reporting fully deterministic.
    var llm: LLMConfiguration?
    /// Where `/health` and `/metrics` are served (`http.host`, default 127.0.0.1, and `http.port`); `nil` (no port
    /// configured): nowhere.
    var http: (host: String, port: Int)?

    init(service: ServiceConfiguration, concurrency: Int, heartbeatInterval: Duration, leaseDuration: Duration, consumerName: String) {
        self.service = service
        self.concurrency = concurrency
        self.heartbeatInterval = heartbeatInterval
        self.leaseDuration = leaseDuration
        self.consumerName = consumerName
    }

    init(settings: Settings) throws {
        let heartbeat = try settings.seconds(.heartbeatInterval, default: .seconds(3), in: 0.05...300)
        let lease = try settings.seconds(.leaseDuration, default: .seconds(10), in: 0.2...3600)
        guard lease > heartbeat * 2 else {
            throw ConfigurationError(.leaseDuration, "must be more than twice the heartbeat interval")
        }
        self.init(
            service: try ServiceConfiguration(settings: settings),
            concurrency: try settings.int(.workerConcurrency, default: 16, in: 1...1024),
            heartbeatInterval: heartbeat,
            leaseDuration: lease,
            consumerName: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        )
        eventLoops = try settings.int(.workerEventLoops, default: 1, in: 1...64)
        retryBaseDelay = try settings.seconds(.retryDelay, default: .seconds(1), in: 0.001...3600)
        llm = try LLMConfiguration(settings: settings)
        // Served only when a port is configured: several workers on one host (the dev and bench scripts) would collide.
        if settings.string(.httpPort) != nil {
            http = (settings.string(.httpHost) ?? "127.0.0.1", try settings.int(.httpPort, default: 8081, in: 1...65535))
        }
    }
}
