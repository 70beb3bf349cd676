import Foundation
import Shared

/// The scheduler's settings.
///
/// - Configuration keys: the shared ones (`ServiceConfiguration`), plus `http.host` (default `127.0.0.1`),
///   `http.port` (default 8082) and `leader.ttl` (seconds the leader lock lives without renewal, default 10).
struct SchedulerConfiguration: Sendable {
    var service: ServiceConfiguration
    var host: String
    var port: Int
    var leaderTTL: Duration
    /// This replica's identity in the leader lock.
    var instanceID: String

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
            leaderTTL: try settings.seconds(.leaderTTL, default: .seconds(10), in: 0.3...300),
            instanceID: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        )
    }
}
