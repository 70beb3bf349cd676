import Foundation
import HTTPTypes
import Shared
import SharedTestSupport
import Testing

/// What the operations console reads and does through the admin API: runs per second, the workers seen, the latest
/// failures of every tenant, and retrying a failed run of any tenant; all behind the operator token.
@Suite("Operations console API")
struct ConsoleTests {
    @Test func theQueueShowsWorkersAndRecentThroughput() async throws {
        try await TestStack.run(workers: 2) { stack in
            let token = try await stack.tenantToken()
            var runs: [String] = []
            for index in 0..<5 { runs.append(try await stack.submit(#"{"message":"\#(index)","pipeline":"bench","parameters":{"stages":1}}"#, token: token)) }
            for run in runs { #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded") }

            // Each run is counted once, when its worker releases its slot (just after its final state is committed).
            try await waitUntil("the five runs are counted", timeout: .seconds(10)) {
                let stats = try stack.json(try await stack.request(.get, "/api/admin/queue", token: TestStack.adminToken))
                return stats["finished_last_minute"]?.intValue == 5
            }
            let stats = try stack.json(try await stack.request(.get, "/api/admin/queue", token: TestStack.adminToken))
            #expect(stats["finished_last_minute"]?.intValue == 5)
            guard case .number(let rate) = stats["runs_per_second"] else { Issue.record("no runs_per_second"); return }
            #expect(abs(rate - 5.0 / 60) < 0.0001)
            // Both workers appear with their registered slots and, once their last acknowledgements land, nothing
            // pending. (A snapshot could catch a worker between a delivery and its acknowledgement on a busy machine.)
            try await waitUntil("both workers are listed idle with their slots", timeout: .seconds(20)) {
                let stats = try stack.json(try await stack.request(.get, "/api/admin/queue", token: TestStack.adminToken))
                let workers = stats["workers"]?.arrayValue ?? []
                let ours = workers.filter { ["worker-0", "worker-1"].contains($0["name"]?.stringValue ?? "") }
                return ours.count == 2 && ours.allSatisfy {
                    $0["slots"]?.intValue == 8 && $0["pending"]?.intValue == 0 && ($0["idle_ms"]?.intValue ?? -1) >= 0
                }
            }
        }
    }

    @Test func failuresOfEveryTenantAreListedAndCanBeRetriedByTheOperator() async throws {
        try await TestStack.run(workers: 1) { stack in
            let first = try await stack.tenantToken()
            let second = try await stack.tenantToken()
            let failing = #"{"message":"m","pipeline":"bench","parameters":{"stages":2,"fail_stage":1,"fail_fatal":true}}"#
            let runA = try await stack.submit(failing, token: first)
            let runB = try await stack.submit(failing, token: second)
            let fine = try await stack.submit(#"{"message":"m","pipeline":"bench","parameters":{"stages":1}}"#, token: first)
            #expect(try await stack.waitForFinalStatus(runA, token: first)["status"]?.stringValue == "failed")
            #expect(try await stack.waitForFinalStatus(runB, token: second)["status"]?.stringValue == "failed")
            #expect(try await stack.waitForFinalStatus(fine, token: first)["status"]?.stringValue == "succeeded")

            // A tenant's token is not the operator's.
            #expect(try await stack.request(.get, "/api/admin/failures", token: first).status == .unauthorized)
            #expect(try await stack.request(.post, "/api/admin/runs/\(runA)/retry", token: first).status == .unauthorized)

            let listed = try stack.json(try await stack.request(.get, "/api/admin/failures?limit=10", token: TestStack.adminToken))
            let failures = try #require(listed["runs"]?.arrayValue)
            #expect(Set(failures.compactMap { $0["run_id"]?.stringValue }) == [runA, runB])
            for failure in failures {
                #expect(failure["status"]?.stringValue == "failed")
                #expect(failure["tenant_id"]?.stringValue != nil)
                #expect(failure["error"] != nil)
            }
            #expect(try await stack.request(.get, "/api/admin/failures?limit=0", token: TestStack.adminToken).status == .unprocessableContent)

            let retried = try await stack.request(.post, "/api/admin/runs/\(runB)/retry", token: TestStack.adminToken)
            #expect(retried.status == .accepted)
            // It runs again under its own tenant (and fails again at the same stage, one attempt later).
            try await waitUntil("the retried run fails again", timeout: .seconds(30)) {
                let run = try stack.json(try await stack.request(.get, "/api/agent/status/\(runB)", token: second))
                return run["status"]?.stringValue == "failed" && (run["attempt"]?.intValue ?? 0) >= 2
            }
            #expect(try await stack.request(.post, "/api/admin/runs/\(fine)/retry", token: TestStack.adminToken).status == .conflict)
            #expect(try await stack.request(.post, "/api/admin/runs/\(UUID())/retry", token: TestStack.adminToken).status == .notFound)
            #expect(try await stack.request(.post, "/api/admin/runs/not-a-run/retry", token: TestStack.adminToken).status == .notFound)
        }
    }
}
