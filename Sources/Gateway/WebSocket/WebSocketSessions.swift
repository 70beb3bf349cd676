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
/// It also keeps the sessions' heartbeat: one timer for the whole gateway hands each session a `heartbeat` message
/// every `heartbeatInterval` from its own start, instead of a sleeping task per connection (memory that 10,000
/// connections notice). The timer ticks 50 times per interval and beats only the sessions that are due, so the beats
/// stay spread out as the connections' start times are, rather than 10,000 sends at one instant.
///
/// Run it as the last service of the process's group, so it receives graceful shutdown first.
final class WebSocketSessions: Service, Sendable {
    private struct Entry {
        let writer: WebSocketOutboundWriter
        let heartbeat: @Sendable (String) -> Void
        var due: ContinuousClock.Instant
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

    /// Registers a session for the duration of `body`; `heartbeat` is called with the `heartbeat` message to send
    /// about every `heartbeatInterval` meanwhile (from the timer's task: it should only hand the message on).
    func withSession<T>(
        _ outbound: WebSocketOutboundWriter, heartbeat: @escaping @Sendable (String) -> Void, _ body: () async throws -> T
    ) async rethrows -> T {
        let id = UUID()
        let due = ContinuousClock.now + heartbeatInterval
        let connections = open.withLock { open in
            open[id] = Entry(writer: outbound, heartbeat: heartbeat, due: due)
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
            let tick = max(self.heartbeatInterval / 50, .milliseconds(10))
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard !Task.isCancelled else { break }
                let now = ContinuousClock.now
                let beats = self.open.withLock { open in
                    var due: [@Sendable (String) -> Void] = []
                    for index in open.values.indices where open.values[index].due <= now {
                        due.append(open.values[index].heartbeat)
                        open.values[index].due = now + self.heartbeatInterval
                    }
                    return due
                }
                guard !beats.isEmpty else { continue }
                let message = ServerMessage.json(type: .heartbeat, data: "{}")
                for beat in beats { beat(message) }
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
