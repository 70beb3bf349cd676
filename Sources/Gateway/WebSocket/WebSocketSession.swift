import Foundation
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import NIOWebSocket
import Shared
import Synchronization

/// One client's WebSocket: greets, sends heartbeats, and handles `start_agent`, `stop_agent`, `subscribe_run` and
/// `ping`.
///
/// One task per connection, whatever the number of runs it watches: the connection's own task reads the client's
/// messages. Everything else the session sends (each watched run's channel messages, delivered by the process's one
/// `RedisSubscriber` on its event loop, and the beats of the gateway-wide heartbeat timer) goes through its `Outbox`,
/// whose drain task exists only while there is something to send, with a `Cursor` per run. A client that reads so
/// slowly that `maxPendingOutputs` pile up is closed with 1013 (try again later): it reconnects and resumes from its
/// last `seq`, so nothing is silently skipped.
///
/// Hardened edges: a message above `maxMessageSize` closes the connection with 1009 (message too big), and each
/// connection's inbound messages pass a token bucket (`messageLimit`): over it a message is answered with `error` /
/// `rate_limited` and dropped, and a client that keeps flooding is closed with 1008 (policy violation).
struct WebSocketSession: Sendable {
    /// What every session of the gateway shares: one instance, so that a connection holds a reference to it rather
    /// than its own copies of the stores and configuration (a copy in a long-lived task's frames is memory every
    /// open connection pays for).
    final class Common: Sendable {
        let submitter: RunSubmitter
        let relay: EventRelay
        let runs: RunStore
        let control: RunControl
        let sessions: WebSocketSessions
        /// Inbound messages allowed per second and at once.
        let messageLimit: WebSocketMessageLimiter.Limit
        /// Outgoing messages a session may hold before the client counts as too slow.
        let outboxLimit: Int

        init(
            submitter: RunSubmitter, relay: EventRelay, runs: RunStore, control: RunControl, sessions: WebSocketSessions,
            messageLimit: WebSocketMessageLimiter.Limit, outboxLimit: Int = WebSocketSession.maxPendingOutputs
        ) {
            self.submitter = submitter
            self.relay = relay
            self.runs = runs
            self.control = control
            self.sessions = sessions
            self.messageLimit = messageLimit
            self.outboxLimit = outboxLimit
        }
    }

    let common: Common
    let identity: Identity
    let logger: Logger

    private var submitter: RunSubmitter { common.submitter }
    private var relay: EventRelay { common.relay }
    private var runs: RunStore { common.runs }
    private var control: RunControl { common.control }
    private var sessions: WebSocketSessions { common.sessions }
    private var messageLimit: WebSocketMessageLimiter.Limit { common.messageLimit }

    /// Messages waiting in the outbox before the client counts as too slow.
    static let maxPendingOutputs = 16_384

    /// Largest message (and frame: the server's `maxFrameSize`) accepted from a client.
    ///
    /// Both limits end in close code 1009: NIO's frame decoder refuses a larger frame from its header, before reading
    /// its payload, and its `WebSocketProtocolErrorHandler` sends the close frame; a fragmented message that grows past
    /// the limit makes `messages(maxSize:)` throw, and `run` rethrows it so that hummingbird-websocket's handler closes
    /// with that code.
    static let maxMessageSize = 64 * 1024

    private struct ConnectionEstablished: Encodable {
        let userID: UserID
        let tenantID: TenantID
        let heartbeatIntervalMilliseconds: Int64
        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case tenantID = "tenant_id"
            case heartbeatIntervalMilliseconds = "heartbeat_interval_ms"
        }
    }

    private struct Action: Decodable {
        let action: String
    }

    private struct Payload<Data: Decodable>: Decodable {
        let data: Data
    }

    private struct StopAgent: Decodable {
        let runID: RunID
        enum CodingKeys: String, CodingKey { case runID = "run_id" }
    }

    private struct SubscribeRun: Decodable {
        let runID: RunID
        let lastSeq: Int?
        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case lastSeq = "last_seq"
        }
    }

    /// What the session sends besides replies, in order.
    enum Output: Sendable {
        /// Start relaying `run` after `seq`: its subscription is confirmed.
        case watch(RunID, after: Int, RedisSubscriber.Subscription)
        case message(RunID, ByteBuffer)
        /// The subscriber reconnected: messages may have been missed.
        case resubscribed(RunID)
        /// The heartbeat message, made once by the gateway's timer for all the sessions it beats.
        case heartbeat(String)
    }

    /// The runs this session watches: each one's subscription (made by the reading task) and, once the outbox has
    /// caught it up, its cursor (read and written only by the outbox's drain task, one output at a time).
    final class Watches: Sendable {
        private struct Watch {
            var subscription: RedisSubscriber.Subscription
            var cursor: EventRelay.Cursor?
        }

        let subscriber: RedisSubscriber
        private let watches = Mutex<[RunID: Watch]>([:])

        init(subscriber: RedisSubscriber) { self.subscriber = subscriber }

        /// Records `run`'s subscription; one the run had already is ended (a second `subscribe_run` replaces it).
        func add(_ run: RunID, _ subscription: RedisSubscriber.Subscription) {
            let replaced = watches.withLock { $0.updateValue(Watch(subscription: subscription), forKey: run) }
            if let replaced { subscriber.unsubscribe(replaced.subscription) }
        }

        /// The run's cursor and subscription, once it has a cursor.
        func cursor(_ run: RunID) -> (EventRelay.Cursor, RedisSubscriber.Subscription)? {
            watches.withLock { watches in
                guard let watch = watches[run], let cursor = watch.cursor else { return nil }
                return (cursor, watch.subscription)
            }
        }

        /// Stores the run's cursor, unless a newer subscription replaced this one (its own output follows).
        func update(_ run: RunID, _ subscription: RedisSubscriber.Subscription, cursor: EventRelay.Cursor) {
            watches.withLock { watches in
                guard watches[run]?.subscription == subscription else { return }
                watches[run]?.cursor = cursor
            }
        }

        /// `true` while `subscription` is the run's current one.
        func isCurrent(_ run: RunID, _ subscription: RedisSubscriber.Subscription) -> Bool {
            watches.withLock { $0[run]?.subscription == subscription }
        }

        /// Ends `run`'s subscription unless a newer one replaced it.
        func end(_ run: RunID, _ subscription: RedisSubscriber.Subscription) {
            let current = watches.withLock { watches -> Bool in
                guard watches[run]?.subscription == subscription else { return false }
                watches[run] = nil
                return true
            }
            if current { subscriber.unsubscribe(subscription) }
        }

        func endAll() {
            let all = watches.withLock { watches in
                defer { watches = [:] }
                return watches.values.map(\.subscription)
            }
            for subscription in all { subscriber.unsubscribe(subscription) }
        }
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let send: @Sendable (String) async throws -> Void = { try await outbound.write(.text($0)) }
        try await send(
            ServerMessage.json(
                type: .connectionEstablished,
                data: ServerMessage.data(
                    ConnectionEstablished(
                        userID: identity.userID, tenantID: identity.tenantID,
                        heartbeatIntervalMilliseconds: sessions.heartbeatInterval.wholeMilliseconds
                    )
                )
            )
        )
        let watches = Watches(subscriber: relay.subscriber)
        let outbox = Outbox<Output>(limit: common.outboxLimit) { output in
            try await deliver(output, watches: watches, send: send)
        } overflowed: {
            logger.info("Closing a WebSocket that fell too far behind", metadata: [LogKey.tenantID: "\(identity.tenantID)"])
            try? await outbound.close(.unknown(1013), reason: "too far behind; reconnect and resubscribe")
        }
        defer {
            watches.endAll()
            outbox.close()
        }
        try await sessions.withSession(outbound, heartbeat: { outbox.put(.heartbeat($0)) }) {
            var limiter = WebSocketMessageLimiter(limit: messageLimit)
            // Errors of the inbound stream (1009 among them) propagate: the library closes with their code.
            let received = NetraMetric.counter(NetraMetric.webSocketMessages, [("direction", "in")])
            for try await message in inbound.messages(maxSize: Self.maxMessageSize) {
                received.increment()
                switch limiter.admit() {
                case .accept:
                    break
                case .reject:
                    try await sendError("rate_limited", "too many messages; this one was dropped", send: send)
                    continue
                case .close:
                    logger.info("Closing a WebSocket that kept exceeding its message rate", metadata: [LogKey.tenantID: "\(identity.tenantID)"])
                    try await outbound.close(.policyViolation, reason: "message rate limit exceeded")
                    return
                }
                guard case .text(let text) = message else {
                    try await sendError("invalid_message", "messages must be JSON text frames", send: send)
                    continue
                }
                // In a task of its own: see `shortLived`.
                await shortLived { await handle(text, outbox: outbox, watches: watches, send: send) }
            }
        }
    }

    /// Sends one output: a heartbeat as it is, a run's event after its cursor's checks, or the stored events a
    /// cursor has not seen yet (a new watch, a gap, a reconnected subscriber). Runs in the outbox's drain task.
    private func deliver(_ output: Output, watches: Watches, send: @escaping @Sendable (String) async throws -> Void) async throws {
        let run: RunID
        var cursor: EventRelay.Cursor
        let subscription: RedisSubscriber.Subscription
        var catchUp = false
        switch output {
        case .heartbeat(let message):
            try await send(message)
            return
        case .watch(let watched, let after, let new):
            // Whatever arrived for the run before this was published earlier, so the catch-up below reads it. A watch
            // replaced by a newer `subscribe_run` meanwhile is left to that one's output.
            guard watches.isCurrent(watched, new) else { return }
            (run, cursor, subscription, catchUp) = (watched, EventRelay.Cursor(after: after), new, true)
        case .message(let watched, let payload):
            guard let (current, currentSubscription) = watches.cursor(watched) else { return }
            (run, cursor, subscription) = (watched, current, currentSubscription)
            switch cursor.accept(payload) {
            case .send: try await send(String(buffer: payload))
            case .skip: return
            case .catchUp: catchUp = true
            }
        case .resubscribed(let watched):
            guard let (current, currentSubscription) = watches.cursor(watched) else { return }
            (run, cursor, subscription, catchUp) = (watched, current, currentSubscription, true)
        }
        if catchUp {
            do {
                try await relay.catchUp(run, tenant: identity.tenantID, cursor: &cursor, logger: logger, send: send)
            } catch {
                // A failed query ends this run's relay (the client may resubscribe); a failed send closes the outbox.
                logger.debug("Relay ended", metadata: [LogKey.runID: "\(run)", LogKey.error: "\(error)"])
                watches.end(run, subscription)
                try await sendRelayFailed(run, send: send)
                return
            }
        }
        if cursor.finished {
            watches.end(run, subscription)
        } else {
            watches.update(run, subscription, cursor: cursor)
        }
    }

    private func handle(_ text: String, outbox: Outbox<Output>, watches: Watches, send: @escaping @Sendable (String) async throws -> Void) async {
        do {
            let data = Data(text.utf8)
            let action: Action
            do {
                action = try JSONDecoder().decode(Action.self, from: data)
            } catch {
                try await sendError("invalid_message", "expected a JSON object with an \"action\"", send: send)
                return
            }
            switch action.action {
            case "start_agent":
                let request = try JSONDecoder().decode(Payload<RunSubmitter.Request>.self, from: data).data
                try await startAgent(request, outbox: outbox, watches: watches, send: send)
            case "subscribe_run":
                let request = try JSONDecoder().decode(Payload<SubscribeRun>.self, from: data).data
                guard try await runs.run(request.runID, tenant: identity.tenantID, logger: logger) != nil else {
                    throw NetraError.runNotFound  // answered below, as every NetraError
                }
                do {
                    try await watch(request.runID, after: request.lastSeq ?? 0, outbox: outbox, watches: watches)
                } catch {
                    logger.debug("Subscribing to a run failed", metadata: [LogKey.runID: "\(request.runID)", LogKey.error: "\(error)"])
                    try await sendRelayFailed(request.runID, send: send)
                }
            case "stop_agent":
                let request = try JSONDecoder().decode(Payload<StopAgent>.self, from: data).data
                let result = try await control.cancel(request.runID, identity: identity, logger: logger)
                try await send(ServerMessage.json(type: .agentLog, data: ServerMessage.data(result), runID: request.runID))
            case "ping":
                try await send(ServerMessage.json(type: .heartbeat, data: #"{"pong":true}"#))
            default:
                try await sendError("unknown_action", "unknown action '\(action.action)'", send: send)
            }
        } catch let error as DecodingError {
            try? await sendError("invalid_message", ErrorMiddleware<GatewayContext>.describe(error), send: send)
        } catch let error as NetraError {
            try? await sendError(error.code.raw, error.message, send: send)
        } catch {
            logger.warning("WebSocket action failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            let unavailable = isServiceUnavailable(error)
            try? await sendError(unavailable ? "service_unavailable" : "internal_error", unavailable ? NetraError.unavailable.message : "internal error", send: send)
        }
    }

    /// Creates the run, subscribes to its channel, and only then enqueues it, so no event can be missed.
    private func startAgent(
        _ request: RunSubmitter.Request,
        outbox: Outbox<Output>,
        watches: Watches,
        send: @escaping @Sendable (String) async throws -> Void
    ) async throws {
        let (run, _, blocked) = try await submitter.create(request, identity: identity, idempotencyKey: nil, logger: logger)
        do {
            try await watch(run.id, after: 0, outbox: outbox, watches: watches)
        } catch {
            try? await submitter.runs.abandon(run.id, tenant: run.tenantID, reason: "enqueue_failed", logger: logger)
            throw NetraError.unavailable
        }
        if !blocked { await submitter.enqueue(run, logger: logger) }
        // The run's id at once, before any worker starts it (which may be long for a run in its tenant's backlog or a
        // delayed one), so the client can stop or resubscribe to it. Not a stored event: it carries no `seq`.
        let shown: RunStatus = run.scheduledFor != nil && run.status == .queued ? .scheduled : run.status
        try await send(
            ServerMessage.json(
                type: .agentLog, data: ServerMessage.data(Queued(runID: run.id, status: shown.rawValue, message: "run accepted")),
                threadID: run.threadID, runID: run.id
            )
        )
    }

    /// The acknowledgement of `start_agent`.
    private struct Queued: Encodable {
        let runID: RunID
        let status: String
        let message: String
        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case status, message
        }
    }

    /// Subscribes to the run's channel, then hands it to the outbox, which replays the stored events after `lastSeq`
    /// and relays the live ones.
    private func watch(_ run: RunID, after lastSeq: Int, outbox: Outbox<Output>, watches: Watches) async throws {
        let subscription = try await relay.subscriber.subscribe(to: relay.keys.runEvents(run)) { message in
            switch message {
            case .message(let payload): outbox.put(.message(run, payload))
            case .resubscribed: outbox.put(.resubscribed(run))
            }
        }
        watches.add(run, subscription)
        outbox.put(.watch(run, after: lastSeq, subscription))
    }

    /// Runs `body` in a child task that ends with it.
    ///
    /// A task keeps the memory its async frames ever needed (its allocator's slabs) until it ends, so one database
    /// query in a connection's long-lived task would cost every idle connection that query's deepest frames for as
    /// long as it stays open (`heaptrack` on the websocket benchmark: about 7 kB per connection from handling
    /// `subscribe_run`). A child task gives them back when the work is done.
    private func shortLived(_ body: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in group.addTask { await body() } }
    }

    private func sendError(_ code: String, _ message: String, runID: RunID? = nil, send: @Sendable (String) async throws -> Void) async throws {
        try await send(ServerMessage.json(type: .error, data: ServerMessage.data(["code": code, "message": message]), runID: runID))
    }

    /// A run's events stopped coming (its subscription or catch-up failed): the client resubscribes with its last seq.
    private func sendRelayFailed(_ run: RunID, send: @Sendable (String) async throws -> Void) async throws {
        try await sendError("relay_failed", "event stream interrupted; resubscribe", runID: run, send: send)
    }
}
