import Foundation
import HummingbirdWebSocket
import Logging
import Metrics
import NIOWebSocket
import Shared

/// One client's WebSocket: greets, sends heartbeats, and handles `start_agent`, `stop_agent`, `subscribe_run` and
/// `ping`.
///
/// Each watched run is relayed by a child task; leaving the session cancels them.
///
/// Hardened edges: a message above `maxMessageSize` closes the connection with 1009 (message too big), and each
/// connection's inbound messages pass a token bucket (`messageLimit`): over it a message is answered with `error` /
/// `rate_limited` and dropped, and a client that keeps flooding is closed with 1008 (policy violation).
struct WebSocketSession: Sendable {
    let identity: Identity
    let submitter: RunSubmitter
    let relay: EventRelay
    let runs: RunStore
    let control: RunControl
    let heartbeatInterval: Duration
    /// Inbound messages allowed per second and at once.
    let messageLimit: WebSocketMessageLimiter.Limit
    let logger: Logger

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

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let send: @Sendable (String) async throws -> Void = { try await outbound.write(.text($0)) }
        try await send(
            ServerMessage.json(
                type: .connectionEstablished,
                data: ServerMessage.data(
                    ConnectionEstablished(userID: identity.userID, tenantID: identity.tenantID, heartbeatIntervalMilliseconds: heartbeatInterval.wholeMilliseconds)
                )
            )
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeatInterval)
                    try await send(ServerMessage.json(type: .heartbeat, data: "{}"))
                }
            }
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
                    group.cancelAll()
                    return
                }
                guard case .text(let text) = message else {
                    try await sendError("invalid_message", "messages must be JSON text frames", send: send)
                    continue
                }
                await handle(text, group: &group, send: send)
            }
            group.cancelAll()
        }
    }

    private func handle(_ text: String, group: inout ThrowingTaskGroup<Void, any Error>, send: @escaping @Sendable (String) async throws -> Void) async {
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
                try await startAgent(request, group: &group, send: send)
            case "subscribe_run":
                let request = try JSONDecoder().decode(Payload<SubscribeRun>.self, from: data).data
                guard try await runs.run(request.runID, tenant: identity.tenantID, logger: logger) != nil else {
                    try await sendError("run_not_found", "run not found", send: send)
                    return
                }
                startRelay(request.runID, after: request.lastSeq ?? 0, group: &group, send: send)
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
        group: inout ThrowingTaskGroup<Void, any Error>,
        send: @escaping @Sendable (String) async throws -> Void
    ) async throws {
        let (run, _, blocked) = try await submitter.create(request, identity: identity, idempotencyKey: nil, logger: logger)
        let (ready, readyContinuation) = AsyncStream<Void>.makeStream()
        startRelay(run.id, after: 0, group: &group, send: send, subscribed: { readyContinuation.yield(); readyContinuation.finish() }) {
            readyContinuation.finish()
        }
        var iterator = ready.makeAsyncIterator()
        guard await iterator.next() != nil else {
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

    private func startRelay(
        _ run: RunID,
        after lastSeq: Int,
        group: inout ThrowingTaskGroup<Void, any Error>,
        send: @escaping @Sendable (String) async throws -> Void,
        subscribed: @escaping @Sendable () -> Void = {},
        ended: @escaping @Sendable () -> Void = {}
    ) {
        let tenant = identity.tenantID
        let logger = logger
        let relay = relay
        group.addTask {
            defer { ended() }
            do {
                try await relay.relay(run: run, tenant: tenant, after: lastSeq, logger: logger, subscribed: subscribed, send: send)
            } catch is CancellationError {
            } catch {
                logger.debug("Relay ended", metadata: [LogKey.runID: "\(run)", LogKey.error: "\(error)"])
                try? await send(ServerMessage.json(type: .error, data: ServerMessage.data(["code": "relay_failed", "message": "event stream interrupted; resubscribe"]), runID: run))
            }
        }
    }

    private func sendError(_ code: String, _ message: String, send: @Sendable (String) async throws -> Void) async throws {
        try await send(ServerMessage.json(type: .error, data: ServerMessage.data(["code": code, "message": message])))
    }
}
