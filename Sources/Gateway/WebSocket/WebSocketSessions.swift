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
/// It also keeps the sessions' heartbeat: one timer for the whole gateway asks every session to send a `heartbeat`
/// each `heartbeatInterval`, instead of a sleeping task per connection (memory that 10,000 connections notice).
///
/// Run it as the last service of the process's group, so it receives graceful shutdown first.
final class WebSocketSessions: Service, Sendable {
    private struct Entry {
        let writer: WebSocketOutboundWriter
        let heartbeat: @Sendable () -> Void
    }

    private let open = Mutex<[UUID: Entry]>([:])
    let heartbeatInterval: Duration
    /// Longest wait for clients to answer the close frames.
    let closeTimeout: Duration

    init(heartbeatInterval: Duration = .seconds(15), closeTimeout: Duration = .seconds(3)) {
        self.heartbeatInterval = heartbeatInterval
        self.closeTimeout = closeTimeout
    }

    /// Number of open sessions.
    var count: Int { open.withLock { $0.count } }

    /// Registers a session for the duration of `body`; `heartbeat` is called every `heartbeatInterval` meanwhile
    /// (from the timer's task: it should only hand the beat to the session).
    func withSession<T>(_ outbound: WebSocketOutboundWriter, heartbeat: @escaping @Sendable () -> Void, _ body: () async throws -> T) async rethrows -> T {
        let id = UUID()
        let connections = open.withLock { open in
            open[id] = Entry(writer: outbound, heartbeat: heartbeat)
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
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.heartbeatInterval)
                guard !Task.isCancelled else { break }
                let beats = self.open.withLock { $0.values.map(\.heartbeat) }
                for beat in beats { beat() }
            }
        }
        let writers = open.withLock { $0.values.map(\.writer) }
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
