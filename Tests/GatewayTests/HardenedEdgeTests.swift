#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

@Suite("Hardened edges: sizes, WebSocket message rate, CORS and redaction")
struct HardenedEdgeTests {
    static let secrets = ["NETRA_JWT_SECRET": String(repeating: "s", count: 32), "NETRA_ADMIN_TOKEN": String(repeating: "a", count: 16)]

    /// A gateway alone (no worker, no scheduler) on the test services, logging through `logger`, for the length of
    /// `body`; `webSocketMessages` and `corsOrigins` replace the test configuration's values.
    static func withGateway(
        logger: Logger = TestEnvironment.logger("edges"),
        webSocketMessages: WebSocketMessageLimiter.Limit? = nil,
        webSocketOutboxLimit: Int? = nil,
        corsOrigins: [String] = [],
        _ body: @escaping @Sendable (TestStack) async throws -> Void
    ) async throws {
        let service = TestEnvironment.service()
        var config = TestStack.gatewayConfiguration(service)
        if let webSocketMessages { config.webSocketMessages = webSocketMessages }
        if let webSocketOutboxLimit { config.webSocketOutboxLimit = webSocketOutboxLimit }
        config.corsOrigins = corsOrigins
        let app = try await buildApplication(config, logger: logger)
        try await app.test(.live) { client in
            try await withPostgres(service.postgres) { db in
                try await body(TestStack(client: client, service: service, logger: logger, db: db))
            }
        }
    }

    static func webSocketURL(_ stack: TestStack, token: String) -> String { "ws://127.0.0.1:\(stack.port)/ws?token=\(token)" }

    // MARK: Request bodies

    @Test func anOversizedBodyIsRefusedWhileItIsRead() async throws {
        try await Self.withGateway { stack in
            let token = try await stack.tenantToken()
            // 40 MiB announced, 2 MiB sent, then the client only reads: a server that waited for the whole body (or
            // buffered it) would never answer, and the deadline would fail the test.
            let response = try await withDeadline("a 413 before the body is complete") {
                try await Self.partialUpload(port: stack.port, path: "/api/agent/runs", token: token, announced: 40 << 20, sent: 2 << 20)
            }
            #expect(response.hasPrefix("HTTP/1.1 413"), "\(response.prefix(300))")
            #expect(response.contains(#""code":"body_too_large""#), "\(response.prefix(300))")
            let history = try stack.json(try await stack.request(.get, "/api/agent/history", token: token))
            #expect(history["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    /// Sends a POST whose head announces `announced` body bytes, then only `sent` of them, and reads the response.
    static func partialUpload(port: Int, path: String, token: String, announced: Int, sent: Int) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        return try await channel.executeThenClose { inbound, outbound in
            let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(announced)\r\n\r\n"
            try await outbound.write(ByteBuffer(string: head))
            let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 * 1024)
            for _ in 0..<(sent / chunk.readableBytes) { try await outbound.write(chunk) }
            var received = ByteBuffer()
            for try await part in inbound {
                received.writeImmutableBuffer(part)
                if let response = Self.completeResponse(received) { return response }
            }
            return String(buffer: received)
        }
    }

    /// The response in `buffer` once its head and its `Content-Length` bytes of body have arrived.
    static func completeResponse(_ buffer: ByteBuffer) -> String? {
        let text = String(buffer: buffer)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lengthLine = text[..<end.lowerBound].lowercased().components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
        let length = lengthLine.flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[end.upperBound...].utf8.count >= length ? text : nil
    }

    // MARK: WebSocket message size

    @Test func aWebSocketMessageOver64KiBClosesWith1009() async throws {
        try await Self.withGateway { stack in
            let token = try await stack.tenantToken()
            let url = Self.webSocketURL(stack, token: token)
            let codes = Mutex<[String]>([])
            // One 70 KiB frame: NIO's frame decoder refuses it from its header (the server's maxFrameSize is 64 KiB).
            let oneFrame = try await withDeadline("the close after one large frame") {
                try await WebSocketClient.connect(url: url, logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await iterator.next()  // connection_established
                    // Under the limit: read and answered (not JSON: an error event), and the socket stays open.
                    try await outbound.write(.text(String(repeating: "x", count: 60 * 1024)))
                    while let message = try await iterator.next() {
                        guard case .text(let text) = message, let value = JSONValue(text: text), value["type"]?.stringValue == "error" else { continue }
                        codes.withLock { $0.append(value["data"]?["code"]?.stringValue ?? "") }
                        break
                    }
                    try await outbound.write(.text(String(repeating: "x", count: 70 * 1024)))
                    while try await iterator.next() != nil {}
                }
            }
            #expect(codes.withLock { $0 } == ["invalid_message"])
            #expect(oneFrame?.closeCode == .messageTooLarge)

            // 70 KiB in 16 KiB fragments (the client's frame size): `messages(maxSize:)` refuses the fifth fragment.
            let fragmented = try await withDeadline("the close after a large fragmented message") {
                try await WebSocketClient.connect(url: url, logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await iterator.next()  // connection_established
                    try await outbound.writeTextMessage(String(repeating: "x", count: 70 * 1024))
                    while try await iterator.next() != nil {}
                }
            }
            #expect(fragmented?.closeCode == .messageTooLarge)
        }
    }

    /// A client that stops reading while its run's events keep coming: once the socket's buffers are full and the
    /// session holds its limit of messages, it is closed with 1013 instead of holding ever more memory (the client
    /// reconnects and resumes from its last `seq`). The limit is lowered to 64 here; the buffers take megabytes.
    @Test func aClientThatStopsReadingIsClosedWith1013() async throws {
        try await Self.withGateway(webSocketOutboxLimit: 64) { stack in
            let token = try await stack.tenantToken()
            let run = try #require(RunID(try await stack.submit(#"{"message":"m"}"#, token: token)))
            let redis = RedisClient(endpoint: stack.service.redis, logger: stack.logger)
            let channel = stack.service.keys.runEvents(run)
            let padding = String(repeating: "x", count: 4096)
            let received = Atomic<Int>(0)
            let closed = try await withDeadline("the close of a client that stopped reading", .seconds(60)) {
                try await WebSocketClient.connect(url: Self.webSocketURL(stack, token: token), logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await iterator.next()  // connection_established
                    try await outbound.write(.text(#"{"action":"subscribe_run","data":{"run_id":"\#(run)","last_seq":0}}"#))
                    try await waitUntil("the gateway's subscription to the run") {
                        (try await redis.send(["PUBSUB", "NUMSUB", RedisArgument(channel)]).array?.last?.int ?? 0) == 1
                    }
                    // 32 MiB of events while this client reads nothing: several times what the sockets' buffers hold.
                    for batch in 0..<32 {
                        let commands: [[RedisArgument]] = (1...256).map { index in
                            let seq = batch * 256 + index
                            let event = ServerMessage.json(type: .agentLog, data: #"{"pad":"\#(padding)"}"#, runID: run, seq: seq)
                            return ["PUBLISH", RedisArgument(channel), RedisArgument(event)]
                        }
                        _ = try await redis.pipeline(commands)
                    }
                    while try await iterator.next() != nil { received.add(1, ordering: .relaxed) }
                }
            }
            #expect(closed?.closeCode == WebSocketErrorCode(codeNumber: 1013))
            #expect(received.load(ordering: .relaxed) < 32 * 256)
        }
    }

    // MARK: WebSocket message rate

    /// Five messages at once, then one every 1,000 s: nothing refills while a test runs, so counts are exact.
    static let tinyLimit = WebSocketMessageLimiter.Limit(perSecond: 0.001, burst: 5)

    /// The pongs and error codes among a WebSocket's replies (plain heartbeats and the greeting left out).
    static func reply(_ message: WebSocketMessage) -> String? {
        guard case .text(let text) = message, let value = JSONValue(text: text) else { return nil }
        if value["data"]?["pong"] == .bool(true) { return "pong" }
        if value["type"]?.stringValue == "error" { return value["data"]?["code"]?.stringValue ?? "error" }
        return nil
    }

    @Test func aWebSocketOverItsRateGetsRateLimitedAndStaysOpen() async throws {
        try await Self.withGateway(webSocketMessages: Self.tinyLimit) { stack in
            let token = try await stack.tenantToken()
            let replies = Mutex<[String]>([])
            let close = try await withDeadline("the replies to eight pings") {
                try await WebSocketClient.connect(url: Self.webSocketURL(stack, token: token), logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    for _ in 0..<8 { try await outbound.write(.text(#"{"action":"ping"}"#)) }
                    while replies.withLock({ $0.count }) < 8, let message = try await iterator.next() {
                        if let reply = Self.reply(message) { replies.withLock { $0.append(reply) } }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let expected: [String] = Array(repeating: "pong", count: 5) + Array(repeating: "rate_limited", count: 3)
            #expect(replies.withLock { $0 } == expected)
            // Still open after the dropped messages: the server answered the client's close, not with 1008.
            #expect(close?.closeCode == .normalClosure)
        }
    }

    @Test func aFloodingWebSocketIsClosedWith1008() async throws {
        try await Self.withGateway(webSocketMessages: Self.tinyLimit) { stack in
            let token = try await stack.tenantToken()
            let replies = Mutex<[String]>([])
            let close = try await withDeadline("the flood to be closed") {
                try await WebSocketClient.connect(url: Self.webSocketURL(stack, token: token), logger: stack.logger) { inbound, outbound, _ in
                    for _ in 0..<200 { try await outbound.write(.text(#"{"action":"ping"}"#)) }
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if let reply = Self.reply(message) { replies.withLock { $0.append(reply) } }
                    }
                }
            }
            // The burst is answered, the next 3 × burst are refused one by one, and the one after closes the socket.
            let expected: [String] = Array(repeating: "pong", count: 5) + Array(repeating: "rate_limited", count: 15)
            #expect(replies.withLock { $0 } == expected)
            #expect(close?.closeCode == .policyViolation)
        }
    }

    @Test func acceptedSocketsGetTheDeadPeerTimeouts() async throws {
        // The options the kernel needs to close a connection to a peer that vanished without a FIN, read back from
        // a real accepted socket.
        let group = MultiThreadedEventLoopGroup.singleton
        let read = group.next().makePromise(of: [SocketOptionValue].self)
        let settings = DeadPeerDetection.Settings(userTimeout: .seconds(42), keepAliveIdle: .seconds(7), keepAliveInterval: .seconds(3), keepAliveProbes: 5)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DeadPeerDetection(settings))
                    let options = try #require(channel.syncOptions)
                    read.succeed([
                        try options.getOption(DeadPeerDetection.tcp(TCP_USER_TIMEOUT)),
                        try options.getOption(DeadPeerDetection.tcp(TCP_KEEPIDLE)),
                        try options.getOption(DeadPeerDetection.tcp(TCP_KEEPINTVL)),
                        try options.getOption(DeadPeerDetection.tcp(TCP_KEEPCNT)),
                        try options.getOption(ChannelOptions.socketOption(.so_keepalive)),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: group).connect(to: try #require(server.localAddress)).get()
        let values = try await read.futureResult.get()
        #expect(values == [42_000, 7, 3, 5, 1])
        try await client.close()
        try await server.close()
    }

    @Test func anOutboxDeliversInOrderOneAtATimeAndClosesOnOverflow() async throws {
        let delivered = Mutex<[Int]>([])
        let inFlight = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
        let overflows = Atomic<Int>(0)
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let blocked = Atomic<Bool>(false)
        // Items put from many tasks at once arrive one at a time; those of one task in its order.
        let roomy = Outbox<Int>(limit: 1000) { item in
            if inFlight.add(1, ordering: .relaxed).newValue > 1 { overlapped.store(true, ordering: .relaxed) }
            defer { inFlight.subtract(1, ordering: .relaxed) }
            await Task.yield()
            delivered.withLock { $0.append(item) }
        } overflowed: {}
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask { for item in 0..<50 { roomy.put(producer * 1000 + item) } }
            }
        }
        try await waitUntil("every item to be delivered") { delivered.withLock { $0.count } == 200 && !roomy.isDraining }
        let items = delivered.withLock { $0 }
        for producer in 0..<4 {
            #expect(items.filter { $0 / 1000 == producer } == (0..<50).map { producer * 1000 + $0 })
        }
        let overlappedAtAll = overlapped.load(ordering: .relaxed)
        #expect(!overlappedAtAll, "deliver never runs concurrently with itself")

        // A stuck delivery (a client that stops reading holds the socket's writes): three more fit, the fourth overflows; the rest is dropped and nothing more is delivered.
        let stuck = Outbox<Int>(limit: 3) { item in
            if item == 100 {
                await withCheckedContinuation { continuation in
                    gate.withLock { $0 = continuation }
                    blocked.store(true, ordering: .relaxed)
                }
            }
            delivered.withLock { $0.append(item) }
        } overflowed: {
            overflows.add(1, ordering: .relaxed)
        }
        delivered.withLock { $0 = [] }
        stuck.put(100)
        try await waitUntil("the first delivery to block") { blocked.load(ordering: .relaxed) }
        for item in 1...3 { stuck.put(item) }
        let overflowsBefore = overflows.load(ordering: .relaxed)
        #expect(overflowsBefore == 0)
        stuck.put(4)
        stuck.put(5)
        gate.withLock { $0?.resume(); $0 = nil }
        try await waitUntil("the overflow to be reported") { overflows.load(ordering: .relaxed) == 1 && !stuck.isDraining }
        #expect(delivered.withLock { $0 } == [100], "what was queued behind the stuck delivery was dropped")
        stuck.put(6)
        let drainingAfterClose = stuck.isDraining
        #expect(!drainingAfterClose, "a closed outbox ignores new items")
    }

    @Test func theMessageBucketRefillsOnTheMonotonicClockAndForgivesWhenFull() {
        let start = ContinuousClock.now
        var limiter = WebSocketMessageLimiter(limit: .standard, now: start)  // 20 per second, burst 40, close after 120
        func admit(_ count: Int, at instant: ContinuousClock.Instant) -> [WebSocketMessageLimiter.Verdict] {
            (0..<count).map { _ in limiter.admit(at: instant) }
        }
        let burst = admit(40, at: start)
        let overBurst = admit(1, at: start)
        let soon = start + .milliseconds(60)  // 1.2 tokens later
        let refilled = admit(2, at: soon)
        let flood = admit(118, at: soon)  // 120 refused in all
        let closing = admit(1, at: soon)
        #expect(burst == Array(repeating: .accept, count: 40))
        #expect(overBurst == [.reject])
        #expect(refilled == [.accept, .reject])
        #expect(flood == Array(repeating: .reject, count: 118))
        #expect(closing == [.close])

        // Once the bucket has filled up again, the count of refusals starts over.
        let later = soon + .seconds(2)
        let secondBurst = admit(40, at: later)
        let secondFlood = admit(121, at: later)
        #expect(secondBurst == Array(repeating: .accept, count: 40))
        let refusedThenClosed: [WebSocketMessageLimiter.Verdict] = Array(repeating: .reject, count: 120) + [.close]
        #expect(secondFlood == refusedThenClosed)
    }

    // MARK: CORS

    @Test func corsAnswersListedOriginsOnly() async throws {
        let allowed = "https://app.example.com"
        try await Self.withGateway(corsOrigins: [allowed, "http://localhost:5173"]) { stack in
            let ok = try await stack.request(.get, "/health", headers: [.origin: allowed])
            #expect(ok.status == .ok)
            #expect(ok.headers[.accessControlAllowOrigin] == allowed)
            #expect(ok.headers[values: .vary].contains("Origin"))
            // Errors carry the header too, so that a page can read them.
            let unauthorized = try await stack.request(.get, "/api/auth/me", headers: [.origin: allowed])
            #expect(unauthorized.status == .unauthorized)
            #expect(unauthorized.headers[.accessControlAllowOrigin] == allowed)

            let other = try await stack.request(.get, "/health", headers: [.origin: "https://evil.example.com"])
            #expect(other.status == .ok)
            #expect(other.headers[.accessControlAllowOrigin] == nil)
            #expect(other.headers[values: .vary].contains("Origin"))

            let preflightHeaders: HTTPFields = [
                .origin: allowed, .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type, idempotency-key",
            ]
            let preflight = try await stack.request(.options, "/api/agent/runs", headers: preflightHeaders)
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == allowed)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            let allowedHeaders = preflight.headers[.accessControlAllowHeaders]?.lowercased() ?? ""
            for header in ["authorization", "content-type", "idempotency-key"] {
                #expect(allowedHeaders.contains(header), "\(header) not in \(allowedHeaders)")
            }

            var refused = preflightHeaders
            refused[.origin] = "https://evil.example.com"
            let refusedPreflight = try await stack.request(.options, "/api/agent/runs", headers: refused)
            #expect(refusedPreflight.headers[.accessControlAllowOrigin] == nil)
            #expect(refusedPreflight.headers[.accessControlAllowMethods] == nil)
        }
    }

    @Test func withoutCORSOriginsNoCORSHeaderIsSent() async throws {
        try await Self.withGateway { stack in
            let response = try await stack.request(.get, "/health", headers: [.origin: "https://app.example.com"])
            #expect(response.status == .ok)
            #expect(response.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await stack.request(
                .options, "/api/agent/runs", headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"]
            )
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
            #expect(preflight.headers[.accessControlAllowMethods] == nil)
        }
    }

    @Test func settingsReadTheEdgeKeys() throws {
        let defaults = try GatewayConfiguration(settings: Settings(environment: Self.secrets))
        #expect(defaults.webSocketMessages == WebSocketMessageLimiter.Limit(perSecond: 20, burst: 40))
        #expect(defaults.corsOrigins.isEmpty)

        var environment = Self.secrets
        environment["NETRA_WS_MESSAGES_PER_SECOND"] = "5"
        environment["NETRA_CORS_ORIGINS"] = " https://app.example.com, http://localhost:5173/ ,"
        let configured = try GatewayConfiguration(settings: Settings(environment: environment))
        #expect(configured.webSocketMessages == WebSocketMessageLimiter.Limit(perSecond: 5, burst: 10))
        #expect(configured.corsOrigins == ["https://app.example.com", "http://localhost:5173"])
        environment["NETRA_WS_MESSAGES_BURST"] = "7"
        #expect(try GatewayConfiguration(settings: Settings(environment: environment)).webSocketMessages.burst == 7)

        for bad in ["app.example.com", "https://app.example.com/path", "ftp://files.example.com", "*"] {
            environment["NETRA_CORS_ORIGINS"] = bad
            do {
                _ = try GatewayConfiguration(settings: Settings(environment: environment))
                Issue.record("accepted '\(bad)' as an origin")
            } catch let error as ConfigurationError {
                #expect(error.description.hasPrefix("configuration error: NETRA_CORS_ORIGINS (--cors-origins)"))
            }
        }
        environment["NETRA_CORS_ORIGINS"] = nil
        environment["NETRA_WS_MESSAGES_PER_SECOND"] = "0"
        #expect(throws: ConfigurationError.self) { _ = try GatewayConfiguration(settings: Settings(environment: environment)) }
    }

    // MARK: Redaction

    @Test func requestLogsRedactCredentialsInTheQuery() {
        #expect(RequestLogMiddleware<GatewayContext>.redacted(path: "/ws", query: "token=eyJhbGciOi.x.y") == "/ws?token=***")
        #expect(RequestLogMiddleware<GatewayContext>.redacted(path: "/api/agent/history", query: "limit=5&api_key=nk_a_b&after=2")
            == "/api/agent/history?limit=5&api_key=***&after=2")
        #expect(RequestLogMiddleware<GatewayContext>.redacted(path: "/health", query: nil) == "/health")
    }

    @Test func credentialsReachNeitherTheLogsNorErrorResponses() async throws {
        let capture = LogCapture()
        var logger = Logger(label: "edges-redaction") { _ in LogCapture.Handler(capture: capture) }
        logger.logLevel = .trace
        let password = "right-horse-\(UUID().uuidString.prefix(8))"
        let wrongPassword = "wrong-staple-\(UUID().uuidString.prefix(8))"
        let badToken = "not-a-jwt-\(UUID().uuidString.prefix(8))"
        let badKey = "nk_abcdefabcdef_\(UUID().uuidString.prefix(12))"
        let secrets = Mutex<[String]>([password, wrongPassword, badToken, badKey, TestStack.adminToken, TestStack.jwtSecret])
        let errorBodies = Mutex<[String]>([])
        let clientLogger = TestEnvironment.logger("edges-client")  // the capture holds the gateway's lines only

        try await Self.withGateway(logger: logger) { stack in
            let email = "redact-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let token = try await stack.tenantToken(email: email, password: password)
            let created = try await stack.request(.post, "/api/keys", token: token, json: #"{"name":"redaction"}"#)
            #expect(created.status == .created)
            let key = try #require(try stack.json(created)["key"]?.stringValue)
            secrets.withLock { $0 += [token, key] }

            // Refused credentials: 401s whose bodies echo none of them.
            let wrongLogin = try await stack.request(.post, "/api/auth/login", json: #"{"email":"\#(email)","password":"\#(wrongPassword)"}"#)
            #expect(wrongLogin.status == .unauthorized)
            errorBodies.withLock { $0.append(String(buffer: wrongLogin.body)) }
            for credential in [badToken, badKey] {
                let refused = try await stack.request(.get, "/api/auth/me", token: credential)
                #expect(refused.status == .unauthorized)
                errorBodies.withLock { $0.append(String(buffer: refused.body)) }
            }
            let refusedAdmin = try await stack.request(.get, "/api/admin/tenants", token: badToken)
            errorBodies.withLock { $0.append(String(buffer: refusedAdmin.body)) }
            await #expect(throws: (any Error).self) {
                try await WebSocketClient.connect(url: Self.webSocketURL(stack, token: badToken), logger: clientLogger) { _, _, _ in }
            }

            // Accepted credentials, in the header and in the WebSocket's query.
            #expect(try await stack.request(.get, "/api/auth/me", token: token).status == .ok)
            #expect(try await stack.request(.get, "/api/auth/me", token: key).status == .ok)
            for credential in [token, key] {
                _ = try await withDeadline("the WebSocket greeting") {
                    try await WebSocketClient.connect(url: Self.webSocketURL(stack, token: credential), logger: clientLogger) { inbound, outbound, _ in
                        var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        _ = try await iterator.next()  // connection_established
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
            }
        }

        let logs = capture.text
        #expect(logs.contains("/ws?token=***"), "the capture saw no WebSocket request line")
        for secret in secrets.withLock({ $0 }) {
            #expect(!logs.contains(secret), "a credential reached the logs: \(secret.prefix(6))…")
            for body in errorBodies.withLock({ $0 }) {
                #expect(!body.contains(secret), "a credential reached an error response: \(body)")
            }
        }
    }
}

/// Collects every line a test's gateway logs, metadata included, for redaction checks.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    /// Everything logged so far, one line per entry.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// A handler writing into a capture.
    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(merged) \(event.error.map { "\($0)" } ?? "")")
        }
    }
}
