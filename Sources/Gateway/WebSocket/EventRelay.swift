import Logging
import NIOCore
import Shared

/// Streams one run's events to a client: subscribe to the run's channel first, then replay the durable log after
/// the client's last `seq`, then relay live messages, de-duplicated and gap-filled by `seq`. Ends after
/// `agent_completed`.
struct EventRelay: Sendable {
    let subscriber: RedisSubscriber
    let runs: RunStore
    let keys: RedisKeys

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
            var last = lastSeq
            var finished = false
            func catchUp() async throws {
                for event in try await runs.events(of: run, tenant: tenant, after: last, logger: logger) {
                    try await send(event.wireJSON)
                    last = event.seq
                    if event.type == .agentCompleted { finished = true }
                }
            }
            try await catchUp()
            guard !finished else { return }
            for await message in stream {
                switch message {
                case .resubscribed:
                    try await catchUp()
                case .message(let payload):
                    let probe = ServerMessage.probe(payload.readableBytesView)
                    guard let seq = probe.seq, seq > last else { continue }
                    if seq == last + 1 {
                        try await send(String(buffer: payload))
                        last = seq
                        finished = probe.type == EventType.agentCompleted.rawValue
                    } else {
                        try await catchUp()
                    }
                }
                if finished { return }
            }
        }
    }
}
