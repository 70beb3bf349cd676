import Foundation
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

/// `run_at` and `delay_seconds`: a run waits `scheduled` until its time, then enters the queue at the scheduler's next
/// sweep.
@Suite("Delayed runs")
struct DelayedRunTests {
    /// Seconds since 1970 of a timestamp column of the run (PostgreSQL's clock).
    func epoch(_ stack: TestStack, _ column: String, _ run: String) async throws -> Double? {
        let id = try #require(UUID(uuidString: run))
        switch column {
        case "started_at": return try await stack.scalar(Double.self, "SELECT extract(epoch FROM started_at)::float8 FROM runs WHERE id = \(id)")
        default: return try await stack.scalar(Double.self, "SELECT extract(epoch FROM not_before)::float8 FROM runs WHERE id = \(id)")
        }
    }

    // Delays of a few seconds: the suite runs in parallel on two cores, where one request can take a second.
    @Test func aDelayedRunWaitsScheduledAndStartsWithinASecondOfItsTime() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let bodies: [@Sendable () -> String] = [
                { #"{"message":"later","pipeline":"bench","parameters":{"stages":1},"delay_seconds":4}"# },
                { #"{"message":"at a time","pipeline":"bench","parameters":{"stages":1},"run_at":"\#(JSONText.timestamp(Date().addingTimeInterval(4)))"}"# },
            ]
            for makeBody in bodies {
                let body = makeBody()
                let response = try await stack.request(.post, "/api/agent/runs", token: token, json: body)
                #expect(response.status == .accepted)
                let accepted = try stack.json(response)
                #expect(accepted["status"]?.stringValue == "scheduled")
                let run = try #require(accepted["run_id"]?.stringValue)
                let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(run)", token: token))
                #expect(status["status"]?.stringValue == "scheduled")
                #expect(status["run_at"]?.stringValue != nil)

                #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")
                let due = try #require(try await epoch(stack, "not_before", run))
                let started = try #require(try await epoch(stack, "started_at", run))
                #expect(started >= due, "started \(started - due) s after its time")
                // Admitted by the scheduler's sweep (every 200 ms here; AdmissionTests checks the promotion with its own
                // clock), not by the reconciler's fallback, which would wait 20 s: the bound leaves room for a loaded CI machine.
                #expect(started - due < 10, "started \(started - due) s after its time")
            }
            // A time already past starts the run now.
            let past = JSONText.timestamp(Date().addingTimeInterval(-60))
            let now = try stack.json(
                try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"now","pipeline":"bench","run_at":"\#(past)"}"#)
            )
            #expect(now["status"]?.stringValue == "queued")
        }
    }

    @Test func badSchedulesAreRefused() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let far = JSONText.timestamp(Date().addingTimeInterval(400 * 86_400))
            for extra in [
                #""delay_seconds":5,"run_at":"2030-01-01T00:00:00Z""#, #""delay_seconds":-1"#, #""delay_seconds":"soon""#,
                #""run_at":"tomorrow""#, #""run_at":"2030-01-01 00:00""#, #""run_at":"\#(far)""#,
            ] {
                let response = try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"x",\#(extra)}"#)
                #expect(response.status.code / 100 == 4, "\(extra) answered \(response.status)")
            }
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: token))["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func aCancelledScheduledRunNeverRuns() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let run = try await stack.submit(#"{"message":"never","pipeline":"bench","delay_seconds":4}"#, token: token)
            let cancelled = try stack.json(try await stack.request(.post, "/api/agent/runs/\(run)/cancel", token: token))
            #expect(cancelled["status"]?.stringValue == "cancelled")
            let redis = RedisClient(endpoint: stack.service.redis, logger: TestEnvironment.logger("delayed-test"))
            defer { redis.close() }
            try await waitUntil("the scheduler took the due entry") {
                try await redis.send(["ZCARD", RedisArgument(stack.service.keys.scheduledRuns)]).int == 0
            }
            // Once admitted, a worker finds it cancelled and leaves it so; its slot is released.
            try await waitUntil("no run holds a slot") {
                try await Admission(redis: redis, config: stack.service).totals().admitted == 0
            }
            let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(run)", token: token))
            #expect(status["status"]?.stringValue == "cancelled")
            #expect(status["started_at"] == nil)
        }
    }

    @Test func theReconcilerAdmitsADueRunThatRedisLost() async throws {
        var options = TestStack.Options()
        options.workers = 1
        options.reconcileAfter = .seconds(1)
        options.reconcileInterval = .milliseconds(200)
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let run = try await stack.submit(#"{"message":"lost","pipeline":"bench","delay_seconds":0.5}"#, token: token)
            let redis = RedisClient(endpoint: stack.service.redis, logger: TestEnvironment.logger("delayed-test"))
            defer { redis.close() }
            try await redis.send(["DEL", RedisArgument(stack.service.keys.scheduledRuns)])
            #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")
        }
    }
}
