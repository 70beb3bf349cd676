import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

@Suite("Idempotent submission and resumable event streams")
struct EventStreamTests {
    @Test func theSameIdempotencyKeyGivesTheSameRunEvenConcurrently() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let key = "key-\(UUID())"
            let ids = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        var request = HTTPClientRequest(url: "\(stack.baseURL)/api/agent/runs")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(token)")
                        request.headers.add(name: "Idempotency-Key", value: key)
                        request.body = .bytes(ByteBuffer(string: #"{"message":"once","pipeline":"bench","parameters":{"stages":1}}"#))
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                        #expect(response.status == .accepted)
                        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                        let replayed = response.headers.first(name: "Idempotent-Replayed") == "true"
                        return (try #require(JSONValue(text: body)?["run_id"]?.stringValue), replayed)
                    }
                }
                return try await group.reduce(into: [(String, Bool)]()) { $0.append($1) }
            }
            #expect(Set(ids.map(\.0)).count == 1)
            #expect(ids.filter { !$0.1 }.count == 1)
            let id = try #require(ids.first?.0)
            #expect(try await stack.waitForFinalStatus(id, token: token)["status"]?.stringValue == "succeeded")
            #expect(try await stack.scalar(Int.self, "SELECT count(*) FROM runs WHERE idempotency_key = \(key)") == 1)
            // Executed once, although ten requests asked.
            #expect(try await stack.scalar(Int.self, "SELECT attempt FROM runs WHERE idempotency_key = \(key)") == 1)
            let other = try await stack.submit(#"{"message":"twice"}"#, token: token, headers: [HTTPField.Name("Idempotency-Key")!: "key-\(UUID())"])
            #expect(other != id)
        }
    }

    @Test func eventsAfterASeqAsJSONAndAsServerSentEvents() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let id = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":3,"stage_ms":150}}"#, token: token)

            // An EventSource opened while the run is in flight replays, follows live, and closes after the last event.
            let frames = try await withDeadline("the SSE stream to end") { try await Self.sse(stack, run: id, token: token, lastEventID: nil) }
            #expect(frames.map(\.id) == Array(1...8))
            #expect(frames.last?.event == "agent_completed")
            #expect(frames.allSatisfy { JSONValue(text: $0.data)?["metadata"]?["seq"]?.intValue == $0.id })

            // Resuming after seq 5 (Last-Event-ID) gives exactly the rest.
            let rest = try await withDeadline("the resumed SSE stream") { try await Self.sse(stack, run: id, token: token, lastEventID: 5) }
            #expect(rest.map(\.id) == [6, 7, 8])

            let json = try stack.json(try await stack.request(.get, "/api/agent/runs/\(id)/events?after=5", token: token))
            #expect(json["events"]?.arrayValue?.compactMap { $0["metadata"]?["seq"]?.intValue } == [6, 7, 8])
            #expect(json["status"]?.stringValue == "succeeded")
            let other = try await stack.tenantToken()
            #expect(try await stack.request(.get, "/api/agent/runs/\(id)/events", token: other).status == .notFound)
            #expect(try await stack.request(.get, "/api/agent/runs/\(id)/events?after=-1", token: token).status == .unprocessableContent)
            // A bad resume point is named as the client sent it.
            let badHeader = try await stack.request(
                .get, "/api/agent/runs/\(id)/events", token: token, headers: [HTTPField.Name("Last-Event-ID")!: "zz"]
            )
            #expect(badHeader.status == .unprocessableContent)
            #expect(try stack.json(badHeader)["error"]?["message"]?.stringValue == "Last-Event-ID must be a whole number ≥ 0")
        }
    }

    @Test func aReconnectingWebSocketClientMissesNothingAndSeesNothingTwice() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let id = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":4,"stage_ms":150}}"#, token: token)
            let seen = Mutex<[Int]>([])
            // First connection: read a few events, then drop the socket.
            _ = try await withDeadline("first connection") {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(token)", logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    try await outbound.write(.text(#"{"action":"subscribe_run","data":{"run_id":"\#(id)","last_seq":0}}"#))
                    while let message = try await iterator.next() {
                        guard case .text(let text) = message, let seq = JSONValue(text: text)?["metadata"]?["seq"]?.intValue else { continue }
                        seen.withLock { $0.append(seq) }
                        if seq == 3 { break }
                    }
                    try await outbound.close(.goingAway, reason: nil)
                }
            }
            // Second connection resumes from the last seq it saw.
            _ = try await withDeadline("second connection") {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(token)", logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    let last = seen.withLock { $0.last ?? 0 }
                    try await outbound.write(.text(#"{"action":"subscribe_run","data":{"run_id":"\#(id)","last_seq":\#(last)}}"#))
                    while let message = try await iterator.next() {
                        guard case .text(let text) = message, let value = JSONValue(text: text), let seq = value["metadata"]?["seq"]?.intValue else { continue }
                        seen.withLock { $0.append(seq) }
                        if value["type"]?.stringValue == "agent_completed" { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            #expect(seen.withLock { $0 } == Array(1...10))
        }
    }

    @Test func oneWebSocketWatchesManyRunsAndLetsGoOfEachChannel() async throws {
        try await TestStack.run(workers: 2) { stack in
            let token = try await stack.tenantToken()
            let redis = RedisClient(endpoint: stack.service.redis, logger: stack.logger)
            defer { redis.close() }
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":3,"stage_ms":100}}"#, token: token)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // Subscribers to these channels, all processes together (workers only publish).
            let channels = ids.map { stack.service.keys.runEvents(RunID($0)!) }
            @Sendable func subscribers(_ channels: [String]) async throws -> Int {
                let reply = try await redis.send(["PUBSUB", "NUMSUB"] + channels.map { RedisArgument($0) })
                return (reply.array ?? []).compactMap(\.int).reduce(0, +)
            }
            let seen = Mutex<[String: [Int]]>([:])
            let lingering = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":2,"stage_ms":5000}}"#, token: token)
            let lingeringChannel = stack.service.keys.runEvents(RunID(lingering)!)
            try await withDeadline("three runs over one WebSocket", .seconds(30)) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(token)", logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    for id in ids + [lingering] {
                        try await outbound.write(.text(#"{"action":"subscribe_run","data":{"run_id":"\#(id)","last_seq":0}}"#))
                    }
                    var completed = 0
                    while completed < ids.count, let message = try await iterator.next() {
                        guard case .text(let text) = message, let value = JSONValue(text: text),
                            let run = value["metadata"]?["run_id"]?.stringValue, let seq = value["metadata"]?["seq"]?.intValue
                        else { continue }
                        seen.withLock { $0[run, default: []].append(seq) }
                        if value["type"]?.stringValue == "agent_completed" { completed += 1 }
                    }
                    // Each finished run's channel is let go of; the lingering run's is still watched.
                    try await waitUntil("the finished runs' channels to be unsubscribed") { try await subscribers(channels) == 0 }
                    #expect(try await subscribers([lingeringChannel]) == 1)
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let received = seen.withLock { $0 }
            for id in ids { #expect(received[id] == Array(1...8), "run \(id): every event once, in order") }
            // Closing the socket lets go of the channel of the run still running.
            try await waitUntil("the closed session's channel to be unsubscribed") { try await subscribers([lingeringChannel]) == 0 }
        }
    }

    struct Frame: Equatable {
        var id: Int
        var event: String
        var data: String
    }

    /// Reads an SSE stream to its end and parses its frames (keep-alive comments skipped).
    static func sse(_ stack: TestStack, run: String, token: String, lastEventID: Int?) async throws -> [Frame] {
        var request = HTTPClientRequest(url: "\(stack.baseURL)/api/agent/runs/\(run)/events")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: String(lastEventID)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
        var text = ""
        for try await chunk in response.body { text += String(buffer: chunk) }
        return text.components(separatedBy: "\n\n").compactMap { block in
            var frame = Frame(id: 0, event: "", data: "")
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { frame.id = Int(line.dropFirst(4)) ?? -1 }
                if line.hasPrefix("event: ") { frame.event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { frame.data = String(line.dropFirst(6)) }
            }
            return frame.data.isEmpty ? nil : frame
        }
    }
}

@Suite("One active run per thread")
struct MultitaskTests {
    @Test func rejectEnqueueAndInterrupt() async throws {
        try await TestStack.run(workers: 2) { stack in
            let token = try await stack.tenantToken()
            let thread = try #require(try stack.json(try await stack.request(.post, "/api/threads", token: token, json: "{}"))["id"]?.stringValue)
            let slow = #""pipeline":"bench","parameters":{"stages":2,"stage_ms":400}"#
            let first = try await stack.submit(#"{"message":"one","thread_id":"\#(thread)",\#(slow)}"#, token: token)

            let rejected = try await stack.request(
                .post, "/api/agent/runs", token: token, json: #"{"message":"no","thread_id":"\#(thread)","multitask_strategy":"reject"}"#
            )
            #expect(rejected.status == .conflict)
            #expect(try stack.json(rejected)["error"]?["code"]?.stringValue == "thread_busy")

            // Enqueued: waits for the first, although a worker is free.
            // Long enough that the test sees it running before interrupting it.
            let second = try await stack.submit(
                #"{"message":"two","thread_id":"\#(thread)","pipeline":"bench","parameters":{"stages":2,"stage_ms":5000}}"#, token: token
            )
            _ = try await stack.waitForFinalStatus(first, token: token)
            try await waitUntil("the second run to start") {
                try stack.json(try await stack.request(.get, "/api/agent/status/\(second)", token: token))["status"]?.stringValue == "running"
            }
            // Interrupt: the running second run is cancelled and the third runs after it.
            let third = try await stack.submit(
                #"{"message":"three","thread_id":"\#(thread)","multitask_strategy":"interrupt","pipeline":"bench","parameters":{"stages":1}}"#, token: token
            )
            let secondFinal = try await stack.waitForFinalStatus(second, token: token)
            #expect(secondFinal["status"]?.stringValue == "cancelled")
            let thirdFinal = try await stack.waitForFinalStatus(third, token: token)
            #expect(thirdFinal["status"]?.stringValue == "succeeded")

            let firstDone = try #require(try await stack.scalar(Date.self, "SELECT finished_at FROM runs WHERE id = \(UUID(uuidString: first)!)"))
            let secondStart = try #require(try await stack.scalar(Date.self, "SELECT started_at FROM runs WHERE id = \(UUID(uuidString: second)!)"))
            let secondDone = try #require(try await stack.scalar(Date.self, "SELECT finished_at FROM runs WHERE id = \(UUID(uuidString: second)!)"))
            let thirdStart = try #require(try await stack.scalar(Date.self, "SELECT started_at FROM runs WHERE id = \(UUID(uuidString: third)!)"))
            #expect(secondStart >= firstDone)
            #expect(thirdStart >= secondDone)
            #expect(try stack.json(try await stack.request(.get, "/api/agent/status/\(first)", token: token))["status"]?.stringValue == "succeeded")
            // A bad strategy is a 400.
            let bad = try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"x","multitask_strategy":"sometimes"}"#)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func theReconcilerReleasesARunLeftWaitingOnAnIdleThread() async throws {
        var options = RecoveryTests.fastRecovery
        options.workers = 1
        options.reconcileInterval = .milliseconds(200)
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let thread = try #require(try stack.json(try await stack.request(.post, "/api/threads", token: token, json: "{}"))["id"]?.stringValue)
            let id = try await stack.submit(#"{"message":"m","thread_id":"\#(thread)","pipeline":"bench","parameters":{"stages":1}}"#, token: token)
            _ = try await stack.waitForFinalStatus(id, token: token)
            // As if a run ended without releasing the one waiting behind it.
            let waiting = UUID()
            try await stack.db.query(
                """
                INSERT INTO runs (id, tenant_id, thread_id, pipeline, input, status, stage_count, not_before)
                SELECT \(waiting), tenant_id, thread_id, 'bench', '{"message":"w","parameters":{"stages":1}}', 'queued', 1, 'infinity'
                FROM runs WHERE id = \(UUID(uuidString: id)!)
                """
            )
            let status = try await stack.waitForFinalStatus(waiting.uuidString.lowercased(), token: token, timeout: .seconds(10))
            #expect(status["status"]?.stringValue == "succeeded")
        }
    }
}

