import Foundation
import HTTPTypes
import Shared
import SharedTestSupport
import Testing

@testable import Gateway
@testable import Scheduler

/// `/api/schedules` and the firing of cron schedules, with a clock of the test's own so that no test waits for a
/// minute to turn.
@Suite("Cron schedules")
struct ScheduleTests {
    func create(_ stack: TestStack, token: String, _ body: String) async throws -> JSONValue {
        let response = try await stack.request(.post, "/api/schedules", token: token, json: body)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        return try stack.json(response)
    }

    @Test func schedulesAreValidatedReadChangedAndDeleted() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let other = try await stack.tenantToken()
            let bad = try await stack.request(.post, "/api/schedules", token: token, json: #"{"cron":"0 24 * * *","message":"x"}"#)
            #expect(bad.status == .badRequest)
            let error = try stack.json(bad)["error"]
            #expect(error?["code"]?.stringValue == "invalid_cron")
            #expect(error?["message"]?.stringValue?.contains("hour") == true)
            #expect(error?["message"]?.stringValue?.contains("field 2") == true)
            for body in [
                #"{"cron":"0 9 * * *","time_zone":"Mars/Olympus","message":"x"}"#, #"{"cron":"0 9 * *","message":"x"}"#,
                #"{"cron":"0 0 30 2 *","message":"x"}"#,
            ] {
                #expect(try await stack.request(.post, "/api/schedules", token: token, json: body).status == .badRequest, "\(body)")
            }
            #expect(try await stack.request(.post, "/api/schedules", token: token, json: #"{"cron":"0 9 * * *"}"#).status.code == 422)
            #expect(try await stack.request(.post, "/api/schedules", token: token, json: #"{"cron":"0 9 * * *","message":"x","pipeline":"nope"}"#).status.code == 422)

            let schedule = try await create(
                stack, token: token,
                #"{"name":"Weekday report","cron":"0 9 * * MON-FRI","time_zone":"Europe/Berlin","message":"weekly report","pipeline":"bench","parameters":{"stages":1}}"#
            )
            let id = try #require(schedule["id"]?.stringValue)
            let next = try #require(schedule["next_fire_at"]?.stringValue.flatMap(RFC3339.date))
            var berlin = Calendar(identifier: .gregorian)
            berlin.timeZone = TimeZone(identifier: "Europe/Berlin")!
            #expect(berlin.component(.hour, from: next) == 9 && berlin.component(.minute, from: next) == 0)
            #expect((2...6).contains(berlin.component(.weekday, from: next)), "a weekday")
            #expect(next > Date())

            #expect(try stack.json(try await stack.request(.get, "/api/schedules", token: token))["schedules"]?.arrayValue?.count == 1)
            #expect(try stack.json(try await stack.request(.get, "/api/schedules/\(id)", token: token))["message"]?.stringValue == "weekly report")
            let paused = try stack.json(try await stack.request(.patch, "/api/schedules/\(id)", token: token, json: #"{"enabled":false}"#))
            #expect(paused["enabled"] == .bool(false) && paused["next_fire_at"] == nil)
            let changed = try stack.json(
                try await stack.request(.patch, "/api/schedules/\(id)", token: token, json: #"{"enabled":true,"cron":"30 * * * *"}"#)
            )
            let changedNext = try #require(changed["next_fire_at"]?.stringValue.flatMap(RFC3339.date))
            #expect(berlin.component(.minute, from: changedNext) == 30)
            #expect(changed["message"]?.stringValue == "weekly report", "unchanged fields stay")
            #expect(try await stack.request(.patch, "/api/schedules/\(id)", token: token, json: #"{"cron":"61 * * * *"}"#).status == .badRequest)

            // Another tenant sees none of it.
            let probes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/api/schedules/\(id)", nil), (.patch, "/api/schedules/\(id)", #"{"enabled":false}"#), (.delete, "/api/schedules/\(id)", nil),
            ]
            for (method, path, body) in probes {
                #expect(try await stack.request(method, path, token: other, json: body).status == .notFound)
            }
            #expect(try stack.json(try await stack.request(.get, "/api/schedules", token: other))["schedules"]?.arrayValue?.isEmpty == true)

            #expect(try await stack.request(.delete, "/api/schedules/\(id)", token: token).status == .noContent)
            #expect(try await stack.request(.get, "/api/schedules/\(id)", token: token).status == .notFound)
        }
    }

    @Test func eachFiringMakesOneRunWhateverTheReplicasAndMissedFiringsFollowCatchUp() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            // Once a year, so the stack's own scheduler never fires it during the test: the test's clock does.
            let schedule = try await create(
                stack, token: token, #"{"cron":"0 3 1 1 *","message":"new year","pipeline":"bench","parameters":{"stages":1}}"#
            )
            let id = try #require(schedule["id"]?.stringValue)
            let due = try #require(schedule["next_fire_at"]?.stringValue.flatMap(RFC3339.date))
            let redis = RedisClient(endpoint: stack.service.redis, logger: stack.logger)
            defer { redis.close() }
            let firing = ScheduleFiring(store: ScheduleStore(client: stack.db), admission: Admission(redis: redis, config: stack.service))

            // Two replicas fire the same due schedule at once: one run.
            async let first = firing.sweep(now: due.addingTimeInterval(1), logger: stack.logger)
            async let second = firing.sweep(now: due.addingTimeInterval(1), logger: stack.logger)
            #expect(try await first + second == 1)
            #expect(try await firing.sweep(now: due.addingTimeInterval(2), logger: stack.logger) == 0, "fired already")
            let runs = try #require(try stack.json(try await stack.request(.get, "/api/agent/history", token: token))["runs"]?.arrayValue)
            #expect(runs.count == 1)
            let run = try #require(runs.first?["run_id"]?.stringValue)
            #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")
            let fired = try stack.json(try await stack.request(.get, "/api/schedules/\(id)", token: token))
            #expect(fired["last_fired_at"]?.stringValue.flatMap(RFC3339.date) == due)
            let next = try #require(fired["next_fire_at"]?.stringValue.flatMap(RFC3339.date))
            #expect(next > due.addingTimeInterval(300 * 86_400), "next year")

            // All schedulers were down for three days past the next firing: `skip` makes no run...
            #expect(try await firing.sweep(now: next.addingTimeInterval(3 * 86_400), logger: stack.logger) == 0)
            let skipped = try stack.json(try await stack.request(.get, "/api/schedules/\(id)", token: token))
            let afterSkip = try #require(skipped["next_fire_at"]?.stringValue.flatMap(RFC3339.date))
            #expect(afterSkip > next.addingTimeInterval(3 * 86_400))
            // ... and `run_once` makes exactly one for the missed firings.
            _ = try await stack.request(.patch, "/api/schedules/\(id)", token: token, json: #"{"catch_up":"run_once"}"#)
            let reset = try stack.json(try await stack.request(.get, "/api/schedules/\(id)", token: token))
            let missed = try #require(reset["next_fire_at"]?.stringValue.flatMap(RFC3339.date))
            #expect(try await firing.sweep(now: missed.addingTimeInterval(400 * 86_400), logger: stack.logger) == 1)
            #expect(try await firing.sweep(now: missed.addingTimeInterval(400 * 86_400), logger: stack.logger) == 0)
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: token))["runs"]?.arrayValue?.count == 2)
        }
    }
}
