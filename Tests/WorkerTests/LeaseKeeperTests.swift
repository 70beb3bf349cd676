import Foundation
import Logging
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@testable import Worker

/// The worker-wide lease renewal against a real PostgreSQL and Redis.
@Suite("LeaseKeeper: one renewal for all held runs")
struct LeaseKeeperTests {
    let logger = TestEnvironment.logger("lease-keeper")

    /// Idle time (ms) of each pending entry of `stream`, by entry id.
    func idleTimes(_ redis: RedisClient, stream: String, group: String) async throws -> [String: Int] {
        let reply = try await redis.send(["XPENDING", RedisArgument(stream), RedisArgument(group), "-", "+", "100"])
        var idle: [String: Int] = [:]
        for entry in reply.array ?? [] {
            guard let fields = entry.array, fields.count == 4, let id = fields[0].string, let ms = fields[2].int else { continue }
            idle[id] = ms
        }
        return idle
    }

    @Test func aRenewalExtendsOwnedLeasesAndSignalsLostAndCancelledRuns() async throws {
        try await withPostgres { client in
            let store = RunStore(client: client)
            let testTenant = try await TestTenant.create(on: client, logger: logger)
            let tenant = testTenant.id
            let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
            defer { redis.close() }
            let stream = "\(TestEnvironment.uniquePrefix()):runs"
            let group = "workers"
            try await redis.createGroup(group, on: stream)

            // Four runs this worker claimed (short leases), delivered through real stream entries it has read.
            var claimed: [(run: ClaimedRun, entry: RunStreamEntry)] = []
            for _ in 0..<4 {
                let run = try await testTenant.queuedRun()
                var entry = RunStreamEntry(runID: run.id, tenantID: tenant, attempt: 0)
                entry.streamID = try await redis.xadd(stream, fields: entry.fields)
                entry.stream = stream
                claimed.append((try #require(try await store.claim(entry, worker: "w", lease: .milliseconds(300), logger: logger)), entry))
            }
            #expect(try await redis.readGroup(group, consumer: "w", stream: stream, count: 10, block: nil).count == 4)
            let (owned, flagged, stolen, finished) = (claimed[0], claimed[1], claimed[2], claimed[3])
            let registry = CancellationRegistry()
            let signals = claimed.map { registry.hold($0.run, entry: $0.entry) }

            // Flagged: a cancellation requested while the control channel was down. Stolen: its lease lapsed and
            // another worker claimed it. Finished: its attempt committed its final state (not yet removed here).
            guard case .requested = try #require(try await store.cancel(flagged.run.id, tenant: tenant, logger: logger)) else {
                Issue.record("the running run's cancellation was not recorded as requested")
                return
            }
            try await waitUntil("the stolen run's lease to lapse") {
                try await client.query("SELECT count(*) FROM runs WHERE id = \(stolen.run.id.uuid) AND lease_expires_at < now()")
                    .decode(Int.self).reduce(0, +) == 1
            }
            _ = try #require(try await store.claim(stolen.entry, worker: "other", lease: .seconds(60), logger: logger))
            try await store.commit(
                RunWrite(runID: finished.run.id, tenantID: tenant, attempt: finished.run.attempt, events: [], outcome: .succeeded(result: "{}")),
                logger: logger
            )
            // Past a second of idleness, so that a reset shows however slow the machine is.
            try await waitUntil("the entries to idle for a second") {
                try await idleTimes(redis, stream: stream, group: group).values.allSatisfy { $0 >= 1000 }
            }

            let keeper = LeaseKeeper(
                store: store, redis: redis, registry: registry, group: group, consumer: "w", interval: .seconds(5), lease: .seconds(60),
                logger: logger
            )
            await keeper.renew()

            // Owned and flagged runs: leases extended (by a minute, from 300 ms), entries' idle time reset.
            let extended = try await client.query(
                "SELECT id FROM runs WHERE id = ANY(\([owned.run.id.uuid, flagged.run.id.uuid, stolen.run.id.uuid])::uuid[]) AND worker_id = 'w' AND lease_expires_at > now() + interval '30 seconds'"
            ).decode(UUID.self).reduce(into: Set<UUID>()) { $0.insert($1) }
            #expect(extended == [owned.run.id.uuid, flagged.run.id.uuid])
            let idle = try await idleTimes(redis, stream: stream, group: group)
            #expect(idle[owned.entry.streamID].map { $0 < 1000 } == true)
            #expect(idle[flagged.entry.streamID].map { $0 < 1000 } == true)
            #expect(idle[stolen.entry.streamID].map { $0 >= 1000 } == true, "a lost run's entry is left to the reaper")

            // Only the flagged run is cancelled and only the stolen one has lost its lease.
            for held in claimed { registry.remove(held.run.id) }
            var received: [RunInterruption?] = []
            for stream in signals {
                var iterator = stream.makeAsyncIterator()
                received.append(await iterator.next())
            }
            #expect(received == [nil, .cancelRequested, .leaseLost, nil])
        }
    }
}
