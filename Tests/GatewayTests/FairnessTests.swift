import Foundation
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

/// Per-tenant in-flight limits and priorities, end to end through the gateway, the workers and the scheduler.
@Suite("Tenant limits and priorities")
struct FairnessTests {
    func tenantID(_ stack: TestStack, token: String) async throws -> String {
        try #require(try stack.json(try await stack.request(.get, "/api/auth/me", token: token))["tenant_id"]?.stringValue)
    }

    func setLimit(_ stack: TestStack, tenant: String, _ limit: Int) async throws {
        let response = try await stack.request(
            .patch, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken, json: #"{"max_in_flight": \#(limit)}"#
        )
        #expect(response.status == .ok)
        #expect(try stack.json(response)["limits"]?["max_in_flight"]?.intValue == limit)
    }

    /// When the run started and finished, in seconds since 1970 (PostgreSQL's clock).
    func interval(_ stack: TestStack, _ run: String) async throws -> (start: Double, end: Double) {
        let id = try #require(UUID(uuidString: run))
        let start = try #require(try await stack.scalar(Double.self, "SELECT extract(epoch FROM started_at)::float8 FROM runs WHERE id = \(id)"))
        let end = try #require(try await stack.scalar(Double.self, "SELECT extract(epoch FROM finished_at)::float8 FROM runs WHERE id = \(id)"))
        return (start, end)
    }

    @Test func aTenantAtItsLimitWaitsInItsBacklogWhileOthersRun() async throws {
        try await TestStack.run(workers: 2) { stack in
            let flood = try await stack.tenantToken()
            let other = try await stack.tenantToken()
            try await setLimit(stack, tenant: try await tenantID(stack, token: flood), 1)

            let slow = #"{"message":"slow","pipeline":"bench","parameters":{"stages":1,"stage_ms":1500}}"#
            let flooded = try await (0..<3).asyncMap { _ in try await stack.submit(slow, token: flood) }
            let quick = try await stack.submit(#"{"message":"quick","pipeline":"bench","parameters":{"stages":1}}"#, token: other)
            for run in flooded + [quick] { #expect(try await stack.waitForFinalStatus(run, token: run == quick ? other : flood)["status"]?.stringValue == "succeeded") }

            // The limited tenant's runs ran one at a time, in submission order, although workers had free slots.
            var intervals: [(start: Double, end: Double)] = []
            for run in flooded { intervals.append(try await interval(stack, run)) }
            for (earlier, later) in zip(intervals, intervals.dropFirst()) { #expect(later.start >= earlier.end) }
            // The other tenant did not queue behind that backlog.
            #expect(try await interval(stack, quick).end < intervals[2].start)
        }
    }

    @Test func theNextRunOfATenantIsItsHighestPriorityWaitingRun() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            try await setLimit(stack, tenant: try await tenantID(stack, token: token), 1)
            // The blocker holds the tenant's one slot for long enough that the others are all waiting when it ends.
            let blocker = try await stack.submit(#"{"message":"first","pipeline":"bench","parameters":{"stages":1,"stage_ms":8000}}"#, token: token)
            var waiting: [RunPriority: String] = [:]
            for priority in [RunPriority.low, .normal, .high] {
                waiting[priority] = try await stack.submit(#"{"message":"\#(priority)","pipeline":"bench","priority":"\#(priority)"}"#, token: token)
            }
            let blockerStatus = try stack.json(try await stack.request(.get, "/api/agent/status/\(blocker)", token: token))
            try #require(blockerStatus["status"]?.stringValue != "succeeded", "the three waiting runs were submitted while the blocker ran")
            for run in [blocker] + waiting.values { #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded") }
            let high = try await interval(stack, try #require(waiting[.high]))
            let normal = try await interval(stack, try #require(waiting[.normal]))
            let low = try await interval(stack, try #require(waiting[.low]))
            let blocked = try await interval(stack, blocker)
            #expect(high.end <= normal.start && normal.end <= low.start, "high, then normal, then low: \([blocked, high, normal, low])")
            let status = try stack.json(try await stack.request(.get, "/api/agent/status/\(try #require(waiting[.low]))", token: token))
            #expect(status["priority"]?.stringValue == "low")
        }
    }

    @Test func theReconcilerReleasesSlotsHeldByRunsThatEnded() async throws {
        var options = TestStack.Options()
        options.workers = 1
        options.reconcileInterval = .milliseconds(200)
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let tenant = try #require(TenantID(try await tenantID(stack, token: token)))
            try await setLimit(stack, tenant: tenant.description, 1)
            // A slot held by a run that no longer exists, as if its worker died between its commit and its release.
            let redis = RedisClient(endpoint: stack.service.redis, logger: TestEnvironment.logger("fairness-test"))
            defer { redis.close() }
            let keys = stack.service.keys
            try await redis.pipeline([
                ["SADD", RedisArgument(keys.tenantActive(tenant)), RedisArgument(RunID().description)],
                ["SADD", RedisArgument(keys.busyTenants), RedisArgument(tenant.description)],
            ])
            let run = try await stack.submit(#"{"message":"after drift","pipeline":"bench","parameters":{"stages":1}}"#, token: token)
            #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")
            try await waitUntil("the tenant's slots are all released", timeout: .seconds(10)) {
                try await redis.send(["SCARD", RedisArgument(keys.tenantActive(tenant))]).int == 0
            }
        }
    }

    @Test func theQueueStatsShowLagAndEachTenantsBacklog() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let tenant = try await tenantID(stack, token: token)
            try await setLimit(stack, tenant: tenant, 1)
            for index in 0..<3 { _ = try await stack.submit(#"{"message":"\#(index)","pipeline":"bench","priority":"high"}"#, token: token) }
            #expect(try await stack.request(.get, "/api/admin/queue", token: token).status == .unauthorized)
            let stats = try stack.json(try await stack.request(.get, "/api/admin/queue", token: TestStack.adminToken))
            #expect(stats["lag"]?.intValue == 1)
            #expect(stats["pending"]?.intValue == 0)
            #expect((stats["oldest_waiting_ms"]?.intValue ?? -1) >= 0)
            let high = stats["streams"]?.arrayValue?.first { $0["name"]?.stringValue == stack.service.keys.runStream(.high) }
            #expect(high?["length"]?.intValue == 1)
            let tenants = try #require(stats["tenants"]?.arrayValue)
            #expect(tenants.count == 1)
            #expect(tenants.first?["tenant_id"]?.stringValue == tenant)
            #expect(tenants.first?["in_flight"]?.intValue == 1)
            #expect(tenants.first?["backlog"]?.intValue == 2)
        }
    }

    @Test func inFlightLimitsAreValidatedAndResettable() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let tenant = try await tenantID(stack, token: token)
            for body in [#"{"max_in_flight": 0}"#, #"{"max_in_flight": -3}"#, #"{"max_in_flight": "5"}"#, #"{"max_in_flight": 2.5}"#] {
                let response = try await stack.request(.patch, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken, json: body)
                #expect(response.status.code / 100 == 4, "\(body)")
            }
            try await setLimit(stack, tenant: tenant, 7)
            let reset = try stack.json(
                try await stack.request(.patch, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken, json: #"{"max_in_flight": null}"#)
            )
            #expect(reset["overrides"]?["max_in_flight"] == .null)
            #expect(reset["limits"]?["max_in_flight"]?.intValue == ServiceConfiguration.defaultTenantMaxInFlight)
            let bad = try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"x","priority":"urgent"}"#)
            #expect(bad.status.code / 100 == 4)
        }
    }
}

extension Sequence {
    /// Maps in order, awaiting each element.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
