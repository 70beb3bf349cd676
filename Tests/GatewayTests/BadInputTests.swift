import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import NIOCore
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

@Suite("Bad input gets a JSON 4xx and changes nothing")
struct BadInputTests {
    /// Checks the status and the `{"error": {"code", "message"}}` envelope.
    func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        let body = JSONValue(text: String(buffer: response.body))
        #expect(body?["error"]?["code"]?.stringValue != nil, "no error code in \(String(buffer: response.body))", sourceLocation: sourceLocation)
        #expect(body?["error"]?["message"]?.stringValue != nil, sourceLocation: sourceLocation)
        if let code { #expect(body?["error"]?["code"]?.stringValue == code, sourceLocation: sourceLocation) }
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
    }

    @Test func malformedBodiesAndWrongTypes() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: "{"), .badRequest, code: "invalid_json")
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: ""), .badRequest)
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message": 5}"#), .badRequest, code: "invalid_json")
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"text": "hi"}"#), .badRequest)
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"hi","thread_id":"nope"}"#), .badRequest)
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"   "}"#), .unprocessableContent)
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"hi","pipeline":"nope"}"#), .unprocessableContent)
            expectError(
                try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"hi","pipeline":"bench","parameters":{"stages":500}}"#),
                .unprocessableContent
            )
            expectError(
                try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"hi","thread_id":"\#(UUID())"}"#),
                .notFound, code: "thread_not_found"
            )
            // A wrong type is named in JSON's words, and an unknown value of a closed set with the values it could have
            // been: never with a Swift type.
            for (path, body, message) in [
                ("/api/agent/runs", #"{"message": 5}"#, "message: expected a string"),
                ("/api/agent/runs", #"[]"#, "body: expected an object"),
                ("/api/agent/runs", #"{"message":"hi","parameters":5}"#, "parameters: expected an object"),
                ("/api/agent/runs", #"{"message":"hi","delay_seconds":"x"}"#, "delay_seconds: expected a number"),
                ("/api/agent/runs", #"{"message":"hi","priority":"urgent"}"#, #"priority: expected one of "high", "normal", "low""#),
                ("/api/agent/runs", #"{"message":"hi","multitask_strategy":"sometimes"}"#,
                 #"multitask_strategy: expected one of "reject", "enqueue", "interrupt""#),
                ("/api/schedules", #"{"cron":"0 9 * * *","message":"x","catch_up":"all"}"#, #"catch_up: expected one of "skip", "run_once""#),
            ] {
                let response = try await stack.request(.post, path, token: token, json: body)
                expectError(response, .badRequest, code: "invalid_json")
                #expect(JSONValue(text: String(buffer: response.body))?["error"]?["message"]?.stringValue == message)
            }
            expectError(try await stack.request(.post, "/api/auth/login", json: "[1,2"), .badRequest)
            expectError(try await stack.request(.post, "/api/threads", token: token, json: #"{"title": ["x"]}"#), .badRequest)
            expectError(try await stack.request(.get, "/api/agent/history?limit=abc", token: token), .unprocessableContent)
            expectError(try await stack.request(.get, "/no/such/route"), .notFound)

            // Nothing was created by any of these.
            let history = try stack.json(try await stack.request(.get, "/api/agent/history", token: token))
            #expect(history["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func oversizedBodyIsRefusedWith413() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            let huge = #"{"message":""# + String(repeating: "a", count: (1 << 20) + 10) + #""}"#
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: huge), .contentTooLarge, code: "body_too_large")
            let history = try stack.json(try await stack.request(.get, "/api/agent/history", token: token))
            #expect(history["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func missingForgedAndExpiredTokensAre401() async throws {
        try await TestStack.run(workers: 0) { stack in
            expectError(try await stack.request(.get, "/api/threads"), .unauthorized, code: "unauthorized")
            expectError(try await stack.request(.get, "/api/threads", token: "garbage"), .unauthorized)
            // Signed with another secret.
            let forger = await TokenService(secret: "another-secret-another-secret-another", lifetime: .seconds(60))
            let user = IdentityStore.User(id: UserID(), tenantID: TenantID(), email: "x@example.com", name: "x", role: "admin", passwordHash: "")
            let (forged, _) = try await forger.issue(for: user)
            expectError(try await stack.request(.get, "/api/auth/me", token: forged), .unauthorized)
            // Expired, with the right secret.
            let expired = AccessClaims(
                sub: .init(value: user.id.description), tid: user.tenantID.description, role: "admin", iss: .init(value: AccessClaims.issuer),
                aud: .init(value: [AccessClaims.audience]), iat: .init(value: Date(timeIntervalSinceNow: -7200)),
                exp: .init(value: Date(timeIntervalSinceNow: -3600)), jti: .init(value: "x")
            )
            let signer = await TokenService(secret: TestStack.jwtSecret, lifetime: .seconds(60))
            expectError(try await stack.request(.get, "/api/auth/me", token: try await signer.keys.sign(expired)), .unauthorized)
            // Wrong password, unknown user, admin API without its token.
            _ = try await stack.tenantToken(email: "known@example.com", password: "right password")
            expectError(
                try await stack.request(.post, "/api/auth/login", json: #"{"email":"known@example.com","password":"wrong password"}"#),
                .unauthorized, code: "invalid_credentials"
            )
            expectError(
                try await stack.request(.post, "/api/auth/login", json: #"{"email":"nobody@example.com","password":"whatever1"}"#),
                .unauthorized, code: "invalid_credentials"
            )
            let tenant = #"{"name":"T","user":{"name":"U","email":"new@example.com","password":"password1"}}"#
            expectError(try await stack.request(.post, "/api/admin/tenants", json: tenant), .unauthorized)
            expectError(try await stack.request(.post, "/api/admin/tenants", token: "wrong-admin-token-000", json: tenant), .unauthorized)
            // The same email twice is a conflict; a malformed one is invalid.
            expectError(
                try await stack.request(
                    .post, "/api/admin/tenants", token: TestStack.adminToken,
                    json: #"{"name":"T","user":{"name":"U","email":"known@example.com","password":"password1"}}"#
                ),
                .conflict
            )
            expectError(
                try await stack.request(
                    .post, "/api/admin/tenants", token: TestStack.adminToken,
                    json: #"{"name":"T","user":{"name":"U","email":"not-an-email","password":"password1"}}"#
                ),
                .unprocessableContent
            )
        }
    }

    @Test func unknownAndOtherTenantsRunsAre404() async throws {
        try await TestStack.run(workers: 0) { stack in
            let tokenA = try await stack.tenantToken()
            let tokenB = try await stack.tenantToken()
            let created = try stack.json(try await stack.request(.post, "/api/agent/runs", token: tokenA, json: #"{"message":"mine"}"#))
            let runA = try #require(created["run_id"]?.stringValue)
            #expect(try stack.json(try await stack.request(.get, "/api/agent/status/\(runA)", token: tokenA))["status"]?.stringValue == "queued")

            expectError(try await stack.request(.get, "/api/agent/status/\(runA)", token: tokenB), .notFound, code: "run_not_found")
            expectError(try await stack.request(.get, "/api/agent/status/\(UUID())", token: tokenA), .notFound, code: "run_not_found")
            expectError(try await stack.request(.get, "/api/agent/status/not-a-uuid", token: tokenA), .notFound, code: "run_not_found")
            let historyB = try stack.json(try await stack.request(.get, "/api/agent/history", token: tokenB))
            #expect(historyB["runs"]?.arrayValue?.isEmpty == true)
            // A thread of A cannot carry B's runs.
            let thread = try stack.json(try await stack.request(.post, "/api/threads", token: tokenA, json: "{}"))
            let threadA = try #require(thread["id"]?.stringValue)
            expectError(
                try await stack.request(.post, "/api/agent/runs", token: tokenB, json: #"{"message":"x","thread_id":"\#(threadA)"}"#),
                .notFound, code: "thread_not_found"
            )
        }
    }

    @Test func webSocketSurvivesBadFramesAndRejectsBadTokens() async throws {
        try await TestStack.run(workers: 0) { stack in
            let tokenA = try await stack.tenantToken()
            let tokenB = try await stack.tenantToken()
            let created = try stack.json(try await stack.request(.post, "/api/agent/runs", token: tokenA, json: #"{"message":"mine"}"#))
            let runA = try #require(created["run_id"]?.stringValue)

            let replies = Mutex<[JSONValue]>([])
            _ = try await withDeadline("WebSocket replies", .seconds(20)) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(tokenB)", logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    func next() async throws -> JSONValue? {
                        while let message = try await iterator.next() {
                            guard case .text(let text) = message, let value = JSONValue(text: text) else { continue }
                            if value["type"]?.stringValue == "heartbeat" && value["data"]?["pong"] == nil { continue }
                            replies.withLock { $0.append(value) }
                            return value
                        }
                        return nil
                    }
                    _ = try await next()  // connection_established
                    try await outbound.write(.text("this is not json"))
                    _ = try await next()
                    try await outbound.write(.binary(ByteBuffer(bytes: [1, 2, 3])))
                    _ = try await next()
                    try await outbound.write(.text(#"{"action":"fly"}"#))
                    _ = try await next()
                    try await outbound.write(.text(#"{"action":"start_agent","data":{"message":7}}"#))
                    _ = try await next()
                    try await outbound.write(.text(#"{"action":"subscribe_run","data":{"run_id":"\#(runA)","last_seq":0}}"#))
                    _ = try await next()
                    try await outbound.write(.text(#"{"action":"ping"}"#))
                    _ = try await next()
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let received = replies.withLock { $0 }
            #expect(received.map { $0["type"]?.stringValue ?? "" } == ["connection_established", "error", "error", "error", "error", "error", "heartbeat"])
            #expect(received.dropFirst().prefix(5).map { $0["data"]?["code"]?.stringValue ?? "" }
                == ["invalid_message", "invalid_message", "unknown_action", "invalid_message", "run_not_found"])
            #expect(received.last?["data"]?["pong"] == .bool(true))

            // Without a valid token the upgrade is refused.
            await #expect(throws: (any Error).self) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=bad", logger: stack.logger) { _, _, _ in }
            }
        }
    }
}
