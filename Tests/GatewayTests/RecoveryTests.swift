import Foundation
import HTTPTypes
import NIOCore
import PostgresNIO
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

/// Delivery guarantees: crashed workers, dead letters, cancellation, the reconciler and graceful shutdown.
@Suite("Delivery guarantees on real Redis and PostgreSQL")
struct RecoveryTests {
    static var fastRecovery: TestStack.Options {
        var options = TestStack.Options()
        options.workers = 0
        options.heartbeat = .milliseconds(200)
        options.lease = .seconds(1)
        options.sweepInterval = .milliseconds(100)
        return options
    }

    /// Counts `sub_agent_update started` events per stage index.
    func starts(_ stack: TestStack, run: UUID) async throws -> [Int: Int] {
        var counts: [Int: Int] = [:]
        let rows = try await stack.db.query(
            """
            SELECT (data->>'stage_index')::int, count(*) FROM run_events
            WHERE run_id = \(run) AND type = 'sub_agent_update' AND data->>'status' = 'started' GROUP BY 1
            """
        )
        for try await (index, count) in rows.decode((Int, Int).self) { counts[index] = count }
        return counts
    }

    func expectGapFreeLog(_ stack: TestStack, run: UUID, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var seqs: [Int] = []
        for try await seq in try await stack.db.query("SELECT seq FROM run_events WHERE run_id = \(run) ORDER BY seq").decode(Int.self) {
            seqs.append(seq)
        }
        #expect(seqs == Array(1...max(seqs.count, 1)), sourceLocation: sourceLocation)
    }

    /// Submits a bench run to a worker process and SIGKILLs the worker once the run's first stage has finished.
    func submitAndKillItsWorker(_ stack: TestStack, token: String, parameters: String) async throws -> (id: String, run: UUID) {
        let worker = try WorkerProcess(service: stack.service, heartbeat: .milliseconds(200), lease: .seconds(1))
        let id = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":\#(parameters)}"#, token: token)
        let run = UUID(uuidString: id)!
        try await waitUntil("the first stage to finish", timeout: .seconds(30)) {
            try await stack.scalar(Int.self, "SELECT count(*) FROM run_stages WHERE run_id = \(run)") ?? 0 >= 1
        }
        worker.signal(SIGKILL)
        _ = try await worker.waitForExit()
        return (id, run)
    }

    @Test func aKilledWorkersRunResumesElsewhereWithoutRepeatingFinishedStages() async throws {
        try await TestStack.run(Self.fastRecovery) { stack in
            let token = try await stack.tenantToken()
            let (id, run) = try await submitAndKillItsWorker(stack, token: token, parameters: #"{"stages":4,"stage_ms":1000}"#)
            let killedAt = Date()
            let second = try WorkerProcess(service: stack.service, heartbeat: .milliseconds(200), lease: .seconds(1))
            let status = try await stack.waitForFinalStatus(id, token: token)
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(status["attempt"]?.intValue == 2)

            // Stages finished before the kill ran once; only the one in flight may have started twice.
            let finishedBefore = try #require(try await stack.scalar(Int.self, "SELECT count(*) FROM run_stages WHERE run_id = \(run) AND attempt = 1"))
            #expect(finishedBefore >= 1)
            let counts = try await starts(stack, run: run)
            for index in 0..<finishedBefore { #expect(counts[index] == 1, "stage \(index) started \(counts[index] ?? 0) times") }
            #expect(counts.values.reduce(0, +) <= 5)
            try await expectGapFreeLog(stack, run: run)
            // The second attempt started within lease + sweep + claim of the kill (a loose bound: CI machines are busy).
            let resumed = try #require(
                try await stack.scalar(Date.self, "SELECT min(created_at) FROM run_events WHERE run_id = \(run) AND type = 'agent_started' AND data->>'attempt' = '2'")
            )
            #expect(resumed.timeIntervalSince(killedAt) < 10)
            second.signal(SIGTERM)
            #expect(try await second.waitForExit() == 0)
        }
    }

    @Test func aRunDeliveredTooOftenGoesDeadAndCanBeRetried() async throws {
        var options = Self.fastRecovery
        options.maxDeliveries = 1
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let (id, run) = try await submitAndKillItsWorker(stack, token: token, parameters: #"{"stages":3,"stage_ms":1000}"#)

            let dead = try await stack.waitForFinalStatus(id, token: token)
            #expect(dead["status"]?.stringValue == "dead")
            let deadList = try stack.json(try await stack.request(.get, "/api/agent/dead", token: token))
            #expect(deadList["runs"]?.arrayValue?.compactMap { $0["run_id"]?.stringValue } == [id])
            let redis = RedisClient(endpoint: TestEnvironment.redis, logger: stack.logger)
            defer { redis.close() }
            #expect(try await redis.send(["XLEN", RedisArgument(stack.service.keys.deadLetterStream)]).int == 1)
            let events = try stack.json(try await stack.request(.get, "/api/agent/status/\(id)", token: token))
            #expect(events["error"]?["code"]?.stringValue == "dead")

            // Retrying resumes after the checkpoint.
            let retried = try await stack.request(.post, "/api/agent/runs/\(id)/retry", token: token)
            #expect(retried.status == .accepted)
            let again = try WorkerProcess(service: stack.service, heartbeat: .milliseconds(200), lease: .seconds(1))
            let final = try await stack.waitForFinalStatus(id, token: token)
            #expect(final["status"]?.stringValue == "succeeded")
            let counts = try await starts(stack, run: run)
            #expect(counts[0] == 1)
            try await expectGapFreeLog(stack, run: run)
            // Only dead or failed runs can be retried.
            #expect(try await stack.request(.post, "/api/agent/runs/\(id)/retry", token: token).status == .conflict)
            again.signal(SIGTERM)
            _ = try await again.waitForExit()
        }
    }

    @Test func cancellingQueuedRunningAndFinishedRuns() async throws {
        var options = Self.fastRecovery
        options.workers = 1
        // Cancellation must arrive through the control channel: the heartbeat (which also reads the flag) comes a
        // minute after the claim, as does the end of the stage, both well after the wait below gives up.
        options.heartbeat = .seconds(60)
        options.lease = .seconds(120)
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let long = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":2,"stage_ms":60000}}"#, token: token)
            try await waitUntil("the run to start") {
                try stack.json(try await stack.request(.get, "/api/agent/status/\(long)", token: token))["current_stage"]?.stringValue == "stage-1"
            }
            let answer = try stack.json(try await stack.request(.post, "/api/agent/runs/\(long)/cancel", token: token))
            #expect(answer["status"]?.stringValue == "cancelling")
            let final = try await stack.waitForFinalStatus(long, token: token, timeout: .seconds(30))
            #expect(final["status"]?.stringValue == "cancelled")
            let last = try #require(try await stack.scalar(String.self, "SELECT data::text FROM run_events WHERE run_id = \(UUID(uuidString: long)!) ORDER BY seq DESC LIMIT 1"))
            #expect(JSONValue(text: last)?["status"]?.stringValue == "cancelled")

            // A finished run: a no-op that says so.
            let again = try stack.json(try await stack.request(.post, "/api/agent/runs/\(long)/cancel", token: token))
            #expect(again["cancelled"] == .bool(false) && again["status"]?.stringValue == "cancelled")
            #expect(try await stack.request(.post, "/api/agent/runs/\(UUID())/cancel", token: token).status == .notFound)
        }
    }

    @Test func stopAgentCancelsAQueuedRunAtOnce() async throws {
        try await TestStack.run(workers: 0) { stack in
            let token = try await stack.tenantToken()
            let id = try await stack.submit(#"{"message":"waiting"}"#, token: token)
            let replies = Mutex<[JSONValue]>([])
            _ = try await withDeadline("stop_agent over the WebSocket") {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(token)", logger: stack.logger) { inbound, outbound, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await iterator.next()
                    try await outbound.write(.text(#"{"action":"subscribe_run","data":{"run_id":"\#(id)"}}"#))
                    try await outbound.write(.text(#"{"action":"stop_agent","data":{"run_id":"\#(id)"}}"#))
                    var sawLog = false
                    var sawCompleted = false
                    while !(sawLog && sawCompleted), let message = try await iterator.next() {
                        guard case .text(let text) = message, let value = JSONValue(text: text) else { continue }
                        replies.withLock { $0.append(value) }
                        if value["type"]?.stringValue == "agent_log" { sawLog = true }
                        if value["type"]?.stringValue == "agent_completed" { sawCompleted = true }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let received = replies.withLock { $0 }
            #expect(received.contains { $0["type"]?.stringValue == "agent_log" && $0["data"]?["status"]?.stringValue == "cancelled" })
            #expect(received.contains { $0["type"]?.stringValue == "agent_completed" && $0["data"]?["status"]?.stringValue == "cancelled" })
            let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(id)", token: token))
            #expect(status["status"]?.stringValue == "cancelled")
        }
    }

    /// A tenant's token and a queued `bench` run inserted straight into PostgreSQL: Redis never heard of it.
    func insertBehindRedisBack(_ stack: TestStack, stages: Int) async throws -> (token: String, run: RunRecord) {
        let token = try await stack.tenantToken()
        let me = try stack.json(try await stack.request(.get, "/api/auth/me", token: token))
        let tenant = try #require(me["tenant_id"]?.stringValue.flatMap(TenantID.init))
        let run = try await RunStore(client: stack.db).create(
            NewRun(
                tenantID: tenant, threadID: nil, userID: nil, pipeline: "bench", input: #"{"message":"m","parameters":{"stages":\#(stages)}}"#,
                stageCount: stages, message: nil
            ),
            logger: stack.logger
        )
        return (token, run)
    }

    @Test func theReconcilerEnqueuesRunsRedisNeverGot() async throws {
        var options = Self.fastRecovery
        options.workers = 1
        options.reconcileAfter = .milliseconds(500)
        options.reconcileInterval = .milliseconds(100)
        try await TestStack.run(options) { stack in
            // As if the gateway died between its insert and its XADD.
            let (token, run) = try await insertBehindRedisBack(stack, stages: 1)
            let status = try await stack.waitForFinalStatus(run.id.description, token: token)
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(status["attempt"]?.intValue == 1)
        }
    }

    @Test func theReconcilerRecoversARunningRunWhoseStreamEntryAndWorkerAreBothGone() async throws {
        var options = Self.fastRecovery
        options.workers = 1
        options.reconcileAfter = .milliseconds(500)
        options.reconcileInterval = .milliseconds(100)
        try await TestStack.run(options) { stack in
            let (token, run) = try await insertBehindRedisBack(stack, stages: 2)
            // As if a worker claimed it, then died, and Redis lost the pending entry the reaper would have found.
            try await stack.db.query(
                """
                UPDATE runs SET status = 'running', attempt = attempt + 1, deliveries = 1, worker_id = 'gone',
                    started_at = now() - interval '1 minute', enqueued_at = now() - interval '1 minute',
                    lease_expires_at = now() - interval '30 seconds'
                WHERE id = \(run.id.uuid)
                """
            )
            let status = try await stack.waitForFinalStatus(run.id.description, token: token)
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(status["attempt"]?.intValue == 2, "the new worker's claim fenced the dead one's attempt")
            try await expectGapFreeLog(stack, run: run.id.uuid)
        }
    }

    @Test func retryableFailuresRetryWithBackoffFromTheCheckpoint() async throws {
        var options = Self.fastRecovery
        options.workers = 1
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let id = try await stack.submit(
                #"{"message":"m","pipeline":"bench","parameters":{"stages":3,"fail_stage":1,"fail_times":2}}"#, token: token
            )
            let run = UUID(uuidString: id)!
            let status = try await stack.waitForFinalStatus(id, token: token)
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(status["error"] == nil)
            #expect(try await stack.scalar(Int.self, "SELECT retries FROM runs WHERE id = \(run)") == 2)
            let counts = try await starts(stack, run: run)
            #expect(counts == [0: 1, 1: 3, 2: 1])
            let notices = try await stack.scalar(
                Int.self, "SELECT count(*) FROM run_events WHERE run_id = \(run) AND type = 'agent_log' AND data ? 'retry'"
            )
            #expect(notices == 2)
            try await expectGapFreeLog(stack, run: run)
            // Nothing is left waiting in the delayed set (the scheduler moves due entries on its own beat: a run the
            // reaper recovered under load may finish before its delayed entry is moved, which then loses its claim).
            let redis = RedisClient(endpoint: TestEnvironment.redis, logger: stack.logger)
            defer { redis.close() }
            try await waitUntil("the delayed set to empty") { try await DelayedQueue(redis: redis, keys: stack.service.keys).count() == 0 }
        }
    }

    @Test func exhaustedRetriesAndFatalErrorsFailTheRun() async throws {
        var options = Self.fastRecovery
        options.workers = 1
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let exhausted = try await stack.submit(
                #"{"message":"m","pipeline":"bench","parameters":{"stages":2,"fail_stage":0,"fail_times":50}}"#, token: token
            )
            let fatal = try await stack.submit(
                #"{"message":"m","pipeline":"bench","parameters":{"stages":2,"fail_stage":1,"fail_fatal":true}}"#, token: token
            )
            let first = try await stack.waitForFinalStatus(exhausted, token: token)
            #expect(first["status"]?.stringValue == "failed")
            #expect(first["error"]?["message"]?.stringValue?.contains("after 3 retries") == true)
            #expect(try await stack.scalar(Int.self, "SELECT retries FROM runs WHERE id = \(UUID(uuidString: exhausted)!)") == 3)
            let second = try await stack.waitForFinalStatus(fatal, token: token)
            #expect(second["status"]?.stringValue == "failed")
            #expect(try await stack.scalar(Int.self, "SELECT retries FROM runs WHERE id = \(UUID(uuidString: fatal)!)") == 0)
            #expect(second["stages_finished"]?.arrayValue?.count == 1)
        }
    }

    @Test func sigtermLetsRunningStagesFinishAndExitsZero() async throws {
        try await TestStack.run(Self.fastRecovery) { stack in
            let token = try await stack.tenantToken()
            let worker = try WorkerProcess(service: stack.service, heartbeat: .milliseconds(200), lease: .seconds(1))
            let id = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":2,"stage_ms":1500}}"#, token: token)
            try await waitUntil("the run to start", timeout: .seconds(30)) {
                try stack.json(try await stack.request(.get, "/api/agent/status/\(id)", token: token))["status"]?.stringValue == "running"
            }
            worker.signal(SIGTERM)
            #expect(try await worker.waitForExit() == 0)
            let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(id)", token: token))
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(status["attempt"]?.intValue == 1)
        }
    }
}
