import Foundation
import HTTPTypes
import Shared
import Testing

@testable import Gateway

/// Tenant B tries every route and WebSocket action with tenant A's ids: each answers "not found" and changes
/// nothing of A's.
@Suite("Tenant isolation")
struct IsolationTests {
    @Test func anotherTenantsIdsAreNotFoundEverywhereAndNothingChanges() async throws {
        var options = TestStack.Options()
        options.workers = 0  // A's run stays queued, so a cancel would show
        try await TestStack.run(options) { stack in
            let tokenA = try await stack.tenantToken()
            let tokenB = try await stack.tenantToken()
            let thread = try #require(
                try stack.json(try await stack.request(.post, "/api/threads", token: tokenA, json: #"{"title":"A's"}"#))["id"]?.stringValue
            )
            let run = try await stack.submit(#"{"message":"A's run","thread_id":"\#(thread)"}"#, token: tokenA)
            let key = try stack.json(try await stack.request(.post, "/api/keys", token: tokenA, json: #"{"name":"A's key"}"#))
            let keyID = try #require(key["id"]?.stringValue)
            let secret = try #require(key["key"]?.stringValue)
            let job = try #require(
                try stack.json(try await stack.request(.post, "/api/generation/start", token: tokenA, json: #"{"events": 10}"#))["job_id"]?.stringValue
            )
            let ingested = try await stack.request(
                .post, "/api/workloads/events", token: tokenA,
                json: #"[{"timestamp":"2026-11-01T00:00:00Z","model":"gpt-4o","provider":"openai","input_tokens":10,"output_tokens":5,"latency_ms":100}]"#
            )
            #expect(ingested.status == .created)

            // Every route that takes an id, with A's ids, as B.
            let probes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/api/agent/status/\(run)", nil),
                (.get, "/api/agent/runs/\(run)/events?after=0", nil),
                (.post, "/api/agent/runs/\(run)/cancel", nil),
                (.post, "/api/agent/runs/\(run)/retry", nil),
                (.get, "/api/generation/status/\(job)", nil),
                (.delete, "/api/keys/\(keyID)", nil),
                (.post, "/api/agent/runs", #"{"message":"into A's thread","thread_id":"\#(thread)"}"#),
                (.get, "/api/threads/\(thread)", nil),
                (.patch, "/api/threads/\(thread)", #"{"title":"B was here"}"#),
                (.put, "/api/threads/\(thread)/switch", nil),
                (.get, "/api/threads/\(thread)/messages", nil),
                (.delete, "/api/threads/\(thread)", nil),
            ]
            for (method, path, body) in probes {
                let response = try await stack.request(method, path, token: tokenB, json: body)
                #expect(response.status == .notFound, "\(method) \(path) answered \(response.status)")
            }
            // Lists and summaries never show A's things to B.
            #expect(try stack.json(try await stack.request(.get, "/api/threads", token: tokenB))["threads"]?.arrayValue?.isEmpty == true)
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: tokenB))["runs"]?.arrayValue?.isEmpty == true)
            #expect(try stack.json(try await stack.request(.get, "/api/keys", token: tokenB))["keys"]?.arrayValue?.isEmpty == true)
            #expect(try stack.json(try await stack.request(.get, "/api/workloads/summary", token: tokenB))["events"]?.intValue == 0)
            #expect(try await stack.request(.delete, "/api/workloads", token: tokenB).status == .ok)

            // The WebSocket actions with A's run.
            let replies = try await IdentityTests().webSocketExchange(
                stack, token: tokenB,
                send: [
                    #"{"action":"subscribe_run","data":{"run_id":"\#(run)","last_seq":0}}"#,
                    #"{"action":"stop_agent","data":{"run_id":"\#(run)"}}"#,
                    #"{"action":"start_agent","data":{"message":"into A's thread","thread_id":"\#(thread)"}}"#,
                ]
            )
            let errors = replies.filter { $0["type"]?.stringValue == "error" }
            #expect(errors.count == 3, "\(replies)")
            #expect(errors.allSatisfy { ($0["data"]?["code"]?.stringValue ?? "").hasSuffix("not_found") }, "\(errors)")
            #expect(!replies.contains { $0["metadata"]?["run_id"]?.stringValue == run }, "B saw an event of A's run")

            // Nothing of A's changed.
            let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(run)", token: tokenA))
            #expect(status["status"]?.stringValue == "queued")
            #expect(try await stack.request(.get, "/api/auth/me", token: secret).status == .ok)
            #expect(try stack.json(try await stack.request(.get, "/api/workloads/summary", token: tokenA))["events"]?.intValue ?? 0 >= 1)
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: tokenA))["runs"]?.arrayValue?.count == 2)
            let threadA = try stack.json(try await stack.request(.get, "/api/threads/\(thread)", token: tokenA))
            #expect(threadA["title"]?.stringValue == "A's")
            #expect(threadA["active"] == .bool(false))
        }
    }
}
