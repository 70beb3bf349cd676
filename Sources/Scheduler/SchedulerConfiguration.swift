import Foundation
import Shared

/// The scheduler's settings.
///
/// - Configuration keys: the shared ones (`ServiceConfiguration`), plus `http.host` (default `127.0.0.1`),
///   `http.port` (default 8082), `leader.ttl` (seconds the leader lock lives without renewal, default 6: a standby, polling every third of it, takes over within 8 s of the leader's death),
///   `lease.duration` (the workers' lease: stream entries idle this long are recovered, default 10),
///   `max.deliveries` (deliveries before a run is dead, default 5) and `reconcile.after` (seconds a run may wait
///   queued before it is enqueued again, default 20).
struct SchedulerConfiguration: Sendable {
    var service: ServiceConfiguration
    var host: String
    var port: Int
    var leaderTTL: Duration
    var leaseDuration: Duration = .seconds(10)
    var maxDeliveries = 5
    var reconcileAfter: Duration = .seconds(20)
    /// Pause between reaper sweeps.
    var sweepInterval: Duration = .milliseconds(250)
    /// Pause between reconciler sweeps.
    var reconcileInterval: Duration = .seconds(5)
    /// This replica's identity in the leader lock.
    var instanceID: String
    /// Signs completion webhooks (`webhook.secret`); without it no webhook is sent (the runs keep theirs pending).
    var webhookSecret: String?

    init(service: ServiceConfiguration, host: String, port: Int, leaderTTL: Duration, instanceID: String) {
        self.service = service
        self.host = host
        self.port = port
        self.leaderTTL = leaderTTL
        self.instanceID = instanceID
    }

    init(settings: Settings) throws {
        self.init(
            service: try ServiceConfiguration(settings: settings),
            host: settings.string(.httpHost) ?? "127.0.0.1",
            port: try settings.int(.httpPort, default: 8082, in: 0...65535),
            leaderTTL: try settings.seconds(.leaderTTL, default: .seconds(6), in: 0.3...300),
            instanceID: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        )
        leaseDuration = try settings.seconds(.leaseDuration, default: .seconds(10), in: 0.2...3600)
        maxDeliveries = try settings.int(.maxDeliveries, default: 5, in: 1...100)
        reconcileAfter = try settings.seconds(.reconcileAfter, default: .seconds(20), in: 1...3600)
        webhookSecret = settings.string(.webhookSecret)
        if let secret = webhookSecret, secret.utf8.count < 16 { throw ConfigurationError(.webhookSecret, "must be at least 16 characters") }
    }
}
