import Foundation
import Logging
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@testable import Worker

@Suite("Claims and fencing against a real PostgreSQL")
struct ClaimTests {
    let logger = TestEnvironment.logger("claims")

    /// A tenant and one queued run, created through the stores.
    func makeRun(_ client: PostgresClient) async throws -> RunRecord {
        try await TestTenant.create(on: client, logger: logger).queuedRun(stages: 5)
    }

    @Test func aSecondDeliveryLosesTheClaim() async throws {
        try await withPostgres { client in
            let run = try await makeRun(client)
            let store = RunStore(client: client)
            let entry = RunStreamEntry(runID: run.id, tenantID: run.tenantID, attempt: 0)
            let claims = try await withThrowingTaskGroup(of: ClaimedRun?.self) { group in
                for worker in 0..<4 { group.addTask { try await store.claim(entry, worker: "w\(worker)", lease: .seconds(30), logger: logger) } }
                return try await group.reduce(into: [ClaimedRun?]()) { $0.append($1) }
            }
            #expect(claims.compactMap { $0 }.count == 1)
            #expect(claims.compactMap { $0 }.first?.attempt == 1)
            // Another tenant's id never claims it.
            let foreign = RunStreamEntry(runID: run.id, tenantID: TenantID(), attempt: 1)
            #expect(try await store.claim(foreign, worker: "w", lease: .seconds(30), logger: logger) == nil)
        }
    }

    @Test func anExpiredLeaseIsReclaimedAndFencesTheOldOwner() async throws {
        try await withPostgres { client in
            let run = try await makeRun(client)
            let store = RunStore(client: client)
            let entry = RunStreamEntry(runID: run.id, tenantID: run.tenantID, attempt: 0)
            let first = try #require(try await store.claim(entry, worker: "old", lease: .milliseconds(1), logger: logger))
            try await waitUntil("the lease to expire") {
                let rows = try await client.query("SELECT count(*) FROM runs WHERE id = \(run.id.uuid) AND lease_expires_at < now()")
                for try await count in rows.decode(Int.self) { return count == 1 }
                return false
            }
            let second = try #require(try await store.claim(entry, worker: "new", lease: .seconds(30), logger: logger))
            #expect(second.attempt == first.attempt + 1)
            // The old owner can neither renew nor write.
            #expect(try await store.renewLeases([(run.id, first.attempt)], lease: .seconds(30), logger: logger) == [run.id: .lost])
            let stale = RunWrite(
                runID: run.id, tenantID: run.tenantID, attempt: first.attempt,
                events: [RunEvent(runID: run.id, threadID: nil, seq: 1, type: .agentStarted, agentName: nil, data: "{}", timestamp: Date())]
            )
            await #expect(throws: LeaseLost.self) { try await store.commit(stale, logger: logger) }
            #expect(try await store.events(of: run.id, tenant: run.tenantID, after: 0, logger: logger).isEmpty)
            // The new owner can.
            var fresh = stale
            fresh.attempt = second.attempt
            try await store.commit(fresh, logger: logger)
            #expect(try await store.events(of: run.id, tenant: run.tenantID, after: 0, logger: logger).map(\.seq) == [1])
        }
    }

    @Test func aBatchCommitWritesOnlyTheWritesThatStillOwnTheirRuns() async throws {
        try await withPostgres { client in
            let store = RunStore(client: client)
            let owned = try await makeRun(client)
            let lost = try await makeRun(client)
            let entries = [owned, lost].map { RunStreamEntry(runID: $0.id, tenantID: $0.tenantID, attempt: 0) }
            // One batch claims both; a duplicate delivery of the first in the same batch gets nothing.
            let claimed = try await store.claim(entries + [entries[0]], worker: "w", lease: .seconds(30), logger: logger)
            let first = try #require(claimed[0])
            let second = try #require(claimed[1])
            #expect(claimed[2] == nil)
            #expect(first.nextSeq == 1 && first.finishedStages.isEmpty)

            func write(_ run: ClaimedRun, attempt: Int) -> RunWrite {
                let now = Date()
                return RunWrite(
                    runID: run.id, tenantID: run.tenantID, attempt: attempt,
                    events: [1, 2].map { RunEvent(runID: run.id, threadID: nil, seq: $0, type: .subAgentUpdate, agentName: "s", data: "{}", timestamp: now) },
                    currentStage: "stage-2",
                    checkpoint: StageRecord(index: 0, name: "stage-1", attempt: attempt, output: #"{"n":1}"#, startedAt: now, finishedAt: now)
                )
            }
            // The second run's write carries a stale attempt: it alone is refused, and nothing of it is stored.
            let results = try await store.commit([write(first, attempt: first.attempt), write(second, attempt: second.attempt - 1)], logger: logger)
            #expect((try? results[0].get()) == false)
            #expect(throws: LeaseLost.self) { try results[1].get() }
            #expect(try await store.events(of: first.id, tenant: first.tenantID, after: 0, logger: logger).map(\.seq) == [1, 2])
            #expect(try await store.events(of: second.id, tenant: second.tenantID, after: 0, logger: logger).isEmpty)
            #expect(try await store.stages(of: first.id, tenant: first.tenantID, logger: logger).map(\.index) == [0])
            #expect(try await store.stages(of: second.id, tenant: second.tenantID, logger: logger).isEmpty)
            #expect(try await store.run(first.id, tenant: first.tenantID, logger: logger)?.currentStage == "stage-2")

            // A later claim of the first run (after its lease is released) resumes after the checkpoint and the log.
            try await store.releaseLease(first.id, attempt: first.attempt, logger: logger)
            let again = try #require(try await store.claim(entries[0], worker: "w2", lease: .seconds(30), logger: logger))
            #expect(again.attempt == first.attempt + 1)
            #expect(again.nextSeq == 3)
            #expect(again.finishedStages.map { JSONValue(text: $0.output) } == [.object(["n": .number(1)])])
        }
    }
}
