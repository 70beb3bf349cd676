import AsyncHTTPClient
import Foundation
import HTTPTypes
import Logging
import NIOCore
import PostgresNIO
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

@Suite("End to end: gateway, two workers and the scheduler on real Redis and PostgreSQL")
struct EndToEndTests {
    @Test func webSocketStartAgentStreamsEveryEventInOrder() async throws {
        try await TestStack.run { stack in
            let token = try await stack.tenantToken()
            let thread = try stack.json(try await stack.request(.post, "/api/threads", token: token, json: #"{"title":"Costs"}"#))
            let threadID = try #require(thread["id"]?.stringValue)

            let messages = Mutex<[JSONValue]>([])
            try await withDeadline("the run's events over the WebSocket", .seconds(30)) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(token)", logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    let start = #"{"action":"start_agent","data":{"message":"Optimize my AI workload costs","thread_id":"\#(threadID)"}}"#
                    try await outbound.write(.text(start))
                    while let message = try await iterator.next() {
                        guard case .text(let text) = message, let value = JSONValue(text: text) else { continue }
                        messages.withLock { $0.append(value) }
                        if value["type"]?.stringValue == "agent_completed" { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let received = messages.withLock { $0 }
            #expect(received.first?["type"]?.stringValue == "connection_established")
            let events = received.filter { $0["metadata"]?["seq"]?.intValue != nil }
            let types = events.map { $0["type"]?.stringValue ?? "" }
            let stageNames = ["triage", "data", "optimizations", "actions", "reporting"]
            // Each stage starts and completes; data loads the aggregates and optimizations runs the cost goal's tools,
            // each as a tool call and its result.
            var expected = ["agent_started"]
            for stage in stageNames {
                let tools = stage == "data" ? 1 : stage == "optimizations" ? Goal.cost.tools.count : 0
                expected += ["sub_agent_update"] + Array(repeating: ["tool_call", "tool_result"], count: tools).flatMap { $0 } + ["sub_agent_update"]
            }
            expected.append("agent_completed")
            #expect(types == expected)
            #expect(events.map { $0["metadata"]?["seq"]?.intValue } == (1...expected.count).map { Optional($0) })
            let tools = events.filter { $0["type"]?.stringValue == "tool_call" && $0["metadata"]?["agent_name"]?.stringValue == "optimizations" }
            #expect(tools.compactMap { $0["data"]?["tool"]?.stringValue } == Goal.cost.tools.map(\.rawValue))
            let updates = events.filter { $0["type"]?.stringValue == "sub_agent_update" }
            #expect(updates.map { $0["metadata"]?["agent_name"]?.stringValue ?? "" } == stageNames.flatMap { [$0, $0] })
            #expect(updates.map { $0["data"]?["status"]?.stringValue ?? "" } == stageNames.flatMap { _ in ["started", "completed"] })
            let runID = try #require(events.first?["metadata"]?["run_id"]?.stringValue)
            // start_agent was acknowledged with the run's id (an agent_log without seq: not a stored event).
            let acknowledgements = received.filter { $0["type"]?.stringValue == "agent_log" && $0["metadata"]?["seq"] == .null }
            #expect(acknowledgements.count == 1)
            #expect(acknowledgements.first?["data"]?["run_id"]?.stringValue == runID)
            #expect(acknowledgements.first?["data"]?["status"]?.stringValue == "queued")
            #expect(acknowledgements.first?["metadata"]?["thread_id"]?.stringValue == threadID)
            #expect(events.allSatisfy { $0["metadata"]?["run_id"]?.stringValue == runID && $0["metadata"]?["thread_id"]?.stringValue == threadID })
            let completed = try #require(events.last)
            #expect(completed["data"]?["status"]?.stringValue == "succeeded")
            #expect(completed["data"]?["result"]?["report"]?["triage"]?["goal"]?.stringValue == "cost")
            #expect(completed["data"]?["result"]?["markdown"]?.stringValue?.isEmpty == false)

            let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(runID)", token: token))
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(status["stages_finished"]?.arrayValue?.compactMap(\.stringValue) == stageNames)
            #expect(status["result"] == completed["data"]?["result"])

            // The durable log holds exactly what the socket received.
            let stored = try await withPostgres(stack.service.postgres) { client in
                var rows: [(Int, String)] = []
                let query = try await client.query("SELECT seq, type FROM run_events WHERE run_id = \(UUID(uuidString: runID)!) ORDER BY seq")
                for try await row in query.decode((Int, String).self) { rows.append(row) }
                return rows
            }
            #expect(stored.map(\.0) == Array(1...expected.count))
            #expect(stored.map(\.1) == expected)
        }
    }

    @Test func fiftyRunsSubmittedAtOnceAllSucceedEachExecutedOnce() async throws {
        try await TestStack.run { stack in
            let token = try await stack.tenantToken()
            let url = "\(stack.baseURL)/api/agent/runs"
            let runIDs = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(token)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        let body = #"{"message":"run \#(index)","pipeline":"bench","parameters":{"stages":5,"stage_ms":5}}"#
                        request.body = .bytes(ByteBuffer(string: body))
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                        #expect(response.status == .accepted, "\(text)")
                        return try #require(JSONValue(text: text)?["run_id"]?.stringValue)
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(Set(runIDs).count == 50)
            let ids = runIDs.map { UUID(uuidString: $0)! }
            try await withPostgres(stack.service.postgres) { client in
                try await waitUntil("all 50 runs to finish", timeout: .seconds(60)) {
                    let rows = try await client.query("SELECT count(*) FROM runs WHERE id = ANY(\(ids)) AND status = 'succeeded'")
                    for try await count in rows.decode(Int.self) { return count == 50 }
                    return false
                }
                // Claimed once each (attempt is the fencing token), one checkpoint per stage, one gap-free event log.
                let rows = try await client.query(
                    """
                    SELECT r.attempt, r.deliveries,
                        (SELECT count(*) FROM run_stages s WHERE s.run_id = r.id),
                        (SELECT count(*) FROM run_events e WHERE e.run_id = r.id),
                        (SELECT max(seq) FROM run_events e WHERE e.run_id = r.id),
                        (SELECT count(*) FROM run_events e WHERE e.run_id = r.id AND e.type = 'agent_started')
                    FROM runs r WHERE r.id = ANY(\(ids))
                    """
                )
                var checked = 0
                for try await (attempt, deliveries, stages, events, maxSeq, starts) in rows.decode((Int, Int, Int, Int, Int, Int).self) {
                    #expect(attempt == 1 && deliveries == 1)
                    #expect(stages == 5)
                    #expect(events == 12 && maxSeq == 12 && starts == 1)
                    checked += 1
                }
                #expect(checked == 50)
            }
            let history = try stack.json(try await stack.request(.get, "/api/agent/history?limit=20", token: token))
            #expect(history["runs"]?.arrayValue?.count == 20)
            #expect(history["next_before"]?.stringValue != nil)
        }
    }

    @Test func threadsAndIdentityRoundTrip() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken(email: "ada-\(UUID().uuidString.prefix(6))@example.com")
            let me = try stack.json(try await stack.request(.get, "/api/auth/me", token: token))
            #expect(me["role"]?.stringValue == "admin")
            #expect(me["email"]?.stringValue?.hasPrefix("ada-") == true)
            let created = try await stack.request(.post, "/api/threads", token: token, json: #"{"title":"First"}"#)
            #expect(created.status == .created)
            try await stack.request(.post, "/api/threads", token: token, json: #"{"title":"Second"}"#)
            let list = try stack.json(try await stack.request(.get, "/api/threads", token: token))
            #expect(list["threads"]?.arrayValue?.compactMap { $0["title"]?.stringValue } == ["Second", "First"])

            let health = try await stack.request(.get, "/health/ready")
            #expect(health.status == .ok)
            let dependencies = try stack.json(try await stack.request(.get, "/health/dependencies"))
            #expect(dependencies["redis"]?["status"]?.stringValue == "up")
            #expect(dependencies["postgres"]?["status"]?.stringValue == "up")
        }
    }
}
