import Foundation
import Metrics
import HummingbirdWebSocket
import NIOWebSocket
import Shared
import Logging
import ServiceLifecycle
import Synchronization

/// The open WebSockets of this gateway, so that shutdown can close them with 1001 (going away) before the HTTP
/// server stops: clients then know to reconnect (to another replica) and resume with `subscribe_run`.
///
/// Run it as the last service of the process's group, so it receives graceful shutdown first.
final class WebSocketSessions: Service, Sendable {
    private let open = Mutex<[UUID: WebSocketOutboundWriter]>([:])
    /// Longest wait for clients to answer the close frames.
    let closeTimeout: Duration

    init(closeTimeout: Duration = .seconds(3)) {
        self.closeTimeout = closeTimeout
    }

    /// Number of open sessions.
    var count: Int { open.withLock { $0.count } }

    /// Registers a session for the duration of `body`.
    func withSession<T>(_ outbound: WebSocketOutboundWriter, _ body: () async throws -> T) async rethrows -> T {
        let id = UUID()
        let connections = open.withLock { open in
            open[id] = outbound
            return open.count
        }
        NetraMetric.gauge(NetraMetric.webSocketConnections).record(connections)
        defer {
            let connections = open.withLock { open in
                _ = open.removeValue(forKey: id)
                return open.count
            }
            NetraMetric.gauge(NetraMetric.webSocketConnections).record(connections)
        }
        return try await body()
    }

    func run() async throws {
        try? await gracefulShutdown()
        let writers = open.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for writer in writers {
                group.addTask { try? await writer.close(.goingAway, reason: "server shutting down") }
            }
        }
        let deadline = ContinuousClock.now + closeTimeout
        while count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
