import Logging
import NIOCore
import Shared

/// Streams runs' events to clients: subscribe to the run's channel first, then replay the durable log after the
/// client's last `seq`, then relay live messages, de-duplicated and gap-filled by `seq`. A run's relay ends after
/// `agent_completed`.
///
/// `relay(run:…)` does it for one run in the caller's task (the SSE endpoint); a WebSocket session watches many
/// runs from one task with a `Cursor` per run and `catchUp`.
struct EventRelay: Sendable {
    let subscriber: RedisSubscriber
    let runs: RunStore
    let keys: RedisKeys

    /// Where one client is in one run's event log.
    struct Cursor: Sendable {
        /// The last `seq` sent.
        var last: Int
        /// `agent_completed` was sent: nothing follows.
        var finished = false

        init(after last: Int) { self.last = last }

        /// What to do with a live message.
        enum Step {
            /// Send it as it is: it is the next one.
            case send
            /// Already sent, or not an event.
            case skip
            /// Something was missed (pub/sub dropped it): read the log instead.
            case catchUp
        }

        /// Decides about a live payload, and when it is the next event, counts it as sent.
        mutating func accept(_ payload: ByteBuffer) -> Step {
            let probe = ServerMessage.probe(payload.readableBytesView)
            guard let seq = probe.seq, seq > last else { return .skip }
            guard seq == last + 1 else { return .catchUp }
            last = seq
            finished = probe.type == EventType.agentCompleted.rawValue
            return .send
        }
    }

    /// Sends the stored events of `run` after the cursor, advancing it.
    func catchUp(_ run: RunID, tenant: TenantID, cursor: inout Cursor, logger: Logger, send: (String) async throws -> Void) async throws {
        for event in try await runs.events(of: run, tenant: tenant, after: cursor.last, logger: logger) {
            try await send(event.wireJSON)
            cursor.last = event.seq
            if event.type == .agentCompleted { cursor.finished = true }
        }
    }

    /// Relays the events of `run` after `lastSeq` through `send`.
    ///
    /// - Parameter subscribed: Called once the channel subscription is confirmed, before any replay.
    func relay(
        run: RunID,
        tenant: TenantID,
        after lastSeq: Int,
        logger: Logger,
        subscribed: @Sendable () -> Void = {},
        send: @Sendable (String) async throws -> Void
    ) async throws {
        try await subscriber.withSubscription(to: keys.runEvents(run)) { stream in
            subscribed()
            var cursor = Cursor(after: lastSeq)
            try await catchUp(run, tenant: tenant, cursor: &cursor, logger: logger, send: send)
            guard !cursor.finished else { return }
            for await message in stream {
                switch message {
                case .resubscribed:
                    try await catchUp(run, tenant: tenant, cursor: &cursor, logger: logger, send: send)
                case .message(let payload):
                    switch cursor.accept(payload) {
                    case .send: try await send(String(buffer: payload))
                    case .skip: break
                    case .catchUp: try await catchUp(run, tenant: tenant, cursor: &cursor, logger: logger, send: send)
                    }
                }
                if cursor.finished { return }
            }
        }
    }
}
