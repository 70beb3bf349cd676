import Foundation
import Shared
import SharedTestSupport
import Testing

/// The admission scripts against a real redis-server: limits, backlog order, priorities, idempotent release.
@Suite("Tenant admission in Redis")
struct AdmissionTests {
    let logger = TestEnvironment.logger("admission-test")

    /// A client, an admission with per-tenant `limit` and overall `floor` under a fresh prefix, and the consumer group
    /// on every work stream. With no worker registered, the floor is the overall capacity.
    private func withAdmission(limit: Int, floor: Int = 1_000, _ body: (Admission, RedisClient) async throws -> Void) async throws {
        let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { redis.close() }
        let keys = RedisKeys(prefix: TestEnvironment.uniquePrefix())
        for stream in keys.workStreams { try await redis.createGroup(keys.workerGroup, on: stream) }
        try await body(Admission(redis: redis, keys: keys, defaultLimit: limit, capacityFloor: floor), redis)
    }

    /// Every entry waiting in the work streams, as a worker would read them.
    private func readAll(_ admission: Admission, _ redis: RedisClient) async throws -> [RunStreamEntry] {
        var entries: [RunStreamEntry] = []
        for priority in RunPriority.allCases { entries += try await read(admission.keys.runStream(priority), admission, redis) }
        return entries
    }

    private func entry(_ tenant: TenantID, _ priority: RunPriority = .normal) -> RunStreamEntry {
        RunStreamEntry(runID: RunID(), tenantID: tenant, attempt: 1, priority: priority)
    }

    /// Reads everything waiting in the given stream as a worker would.
    private func read(_ stream: String, _ admission: Admission, _ redis: RedisClient) async throws -> [RunStreamEntry] {
        try await redis.readGroup(admission.keys.workerGroup, consumer: "test", streams: [stream], count: 1000, block: nil)
            .compactMap(RunStreamEntry.init)
    }

    @Test func runsBeyondTheLimitWaitAndArePromotedInOrderAsSlotsFree() async throws {
        try await withAdmission(limit: 2) { admission, redis in
            let tenant = TenantID()
            let runs = (0..<5).map { _ in entry(tenant) }
            try await admission.admit(runs)
            var delivered = try await read(admission.keys.runStream, admission, redis)
            #expect(delivered.map(\.runID) == runs.prefix(2).map(\.runID))
            #expect(try await admission.load() == [.init(tenant: tenant, admitted: 2, waiting: 3)])

            // Each release frees exactly one slot, for the oldest waiting run.
            for index in 2..<5 {
                try await admission.release(delivered.removeFirst(), group: admission.keys.workerGroup)
                let promoted = try await read(admission.keys.runStream, admission, redis)
                #expect(promoted.map(\.runID) == [runs[index].runID])
                delivered += promoted
            }
            // A repeated release (a duplicate delivery, the reaper after a worker) changes nothing.
            let last = delivered[0]
            try await admission.release(last, group: admission.keys.workerGroup)
            try await admission.release(last, group: admission.keys.workerGroup)
            #expect(try await admission.load() == [.init(tenant: tenant, admitted: 1, waiting: 0)])
            for run in delivered.dropFirst() { try await admission.release(run, group: admission.keys.workerGroup) }
            // An idle tenant leaves no trace in the busy set, and its entries are acknowledged.
            #expect(try await admission.load() == [])
            let pending = try await redis.send(["XPENDING", RedisArgument(admission.keys.runStream), RedisArgument(admission.keys.workerGroup)])
            #expect(pending.array?.first?.int == 0)
        }
    }

    @Test func oneTenantsBacklogDoesNotHoldBackAnother() async throws {
        try await withAdmission(limit: 3) { admission, redis in
            let (flood, small) = (TenantID(), TenantID())
            try await admission.admit((0..<100).map { _ in entry(flood) })
            let late = (0..<3).map { _ in entry(small) }
            try await admission.admit(late)
            let stream = try await read(admission.keys.runStream, admission, redis)
            // Only the flooding tenant's limit is ahead of the late runs.
            #expect(stream.count == 6)
            #expect(Set(stream.suffix(3).map(\.runID)) == Set(late.map(\.runID)))
            let load = try await admission.load().sorted { $0.waiting > $1.waiting }
            #expect(load == [.init(tenant: flood, admitted: 3, waiting: 97), .init(tenant: small, admitted: 3, waiting: 0)])
        }
    }

    @Test func admittingTwiceHoldsOneSlotAndReconcileAddsAFreshEntry() async throws {
        try await withAdmission(limit: 5) { admission, redis in
            let tenant = TenantID()
            let run = entry(tenant)
            try await admission.admit([run])
            try await admission.admit([run])
            #expect(try await read(admission.keys.runStream, admission, redis).count == 1)
            #expect(try await admission.load() == [.init(tenant: tenant, admitted: 1, waiting: 0)])
            // The reconciler's repair of a run queued too long: its slot stays one, its entry comes back.
            try await admission.admit([run], mode: .reconcile)
            #expect(try await read(admission.keys.runStream, admission, redis).map(\.runID) == [run.runID])
            #expect(try await admission.load() == [.init(tenant: tenant, admitted: 1, waiting: 0)])
        }
    }

    @Test func priorityOrdersTheBacklogAndChoosesTheStream() async throws {
        try await withAdmission(limit: 1) { admission, redis in
            let tenant = TenantID()
            let first = entry(tenant, .normal)
            let low = entry(tenant, .low)
            let normal = entry(tenant, .normal)
            let high = entry(tenant, .high)
            try await admission.admit([first, low, normal, high])
            #expect(try await read(admission.keys.runStream, admission, redis).map(\.runID) == [first.runID])
            var current = first
            var order: [RunID] = []
            for _ in 0..<3 {
                current.stream = admission.keys.runStream(current.priority)
                try await admission.release(current, group: admission.keys.workerGroup)
                var next: [RunStreamEntry] = []
                for priority in RunPriority.allCases { next += try await read(admission.keys.runStream(priority), admission, redis) }
                #expect(next.count == 1)
                current = next[0]
                order.append(current.runID)
            }
            #expect(order == [high.runID, normal.runID, low.runID])
            #expect(current.priority == .low)
        }
    }

    @Test func raisingALimitPromotesAtOnceAndLoweringItHoldsNewRuns() async throws {
        try await withAdmission(limit: 1) { admission, redis in
            let tenant = TenantID()
            try await admission.admit((0..<4).map { _ in entry(tenant) })
            #expect(try await read(admission.keys.runStream, admission, redis).count == 1)
            try await admission.setLimit(3, for: tenant)
            #expect(try await read(admission.keys.runStream, admission, redis).count == 2)
            #expect(try await admission.load() == [.init(tenant: tenant, admitted: 3, waiting: 1)])
            // The reconciler's copy from PostgreSQL replaces every override.
            try await admission.setLimits([:])
            let other = TenantID()
            try await admission.admit([entry(other), entry(other)])
            #expect(try await read(admission.keys.runStream, admission, redis).count == 1)
        }
    }

    @Test func releasingRunsWithoutEntriesRepairsSlots() async throws {
        try await withAdmission(limit: 2) { admission, redis in
            let tenant = TenantID()
            let runs = (0..<3).map { _ in entry(tenant) }
            try await admission.admit(runs)
            let admitted = try await admission.admittedRuns(tenant)
            #expect(Set(admitted) == Set(runs.prefix(2).map(\.runID)))
            try await admission.release([(tenant, runs[0].runID)])
            #expect(Set(try await admission.admittedRuns(tenant)) == Set([runs[1].runID, runs[2].runID]))
        }
    }

    @Test func overallCapacityFollowsTheRegisteredWorkersSlots() async throws {
        try await withAdmission(limit: 100, floor: 0) { admission, redis in
            let tenant = TenantID()
            try await admission.admit((0..<20).map { _ in entry(tenant) })
            #expect(try await readAll(admission, redis).isEmpty, "no worker, no floor: nothing is admitted")
            #expect(try await admission.register(worker: "w1", concurrency: 4, lifetime: .seconds(30)) == Admission.capacity(forSlots: 4))
            #expect(try await readAll(admission, redis).count == Admission.capacity(forSlots: 4))
            #expect(try await admission.register(worker: "w2", concurrency: 8, lifetime: .seconds(30)) == Admission.capacity(forSlots: 12))
            #expect(try await readAll(admission, redis).count == Admission.capacity(forSlots: 12) - Admission.capacity(forSlots: 4))
            #expect(try await admission.totals() == (admitted: Admission.capacity(forSlots: 12), capacity: Admission.capacity(forSlots: 12)))
            // A worker that leaves takes its slots away; one whose registration lapsed is forgotten by the next one.
            #expect(try await admission.register(worker: "w2", concurrency: 0, lifetime: .zero) == Admission.capacity(forSlots: 4))
            try await admission.register(worker: "w3", concurrency: 1, lifetime: .milliseconds(1))
            try await waitUntil("w3's registration lapses") {
                try await admission.register(worker: "w1", concurrency: 4, lifetime: .seconds(30)) == Admission.capacity(forSlots: 4)
            }
        }
    }

    @Test func tenantsWithWaitingRunsTakeTurnsForFreedRoom() async throws {
        try await withAdmission(limit: 100, floor: 0) { admission, redis in
            let (flood, late) = (TenantID(), TenantID())
            try await admission.register(worker: "w1", concurrency: 2, lifetime: .seconds(30))
            try await admission.admit((0..<50).map { _ in entry(flood) })
            try await admission.admit((0..<2).map { _ in entry(late) })
            var running = try await readAll(admission, redis)
            #expect(running.count == Admission.capacity(forSlots: 2))
            #expect(running.allSatisfy { $0.tenantID == flood })
            // Each freed slot goes to the tenant served least recently: the late tenant gets every other one.
            var served: [TenantID] = []
            for _ in 0..<5 {
                try await admission.release(running.removeFirst(), group: admission.keys.workerGroup)
                let next = try await readAll(admission, redis)
                #expect(next.count == 1)
                served += next.map(\.tenantID)
                running += next
            }
            #expect(served == [flood, late, flood, late, flood])
        }
    }

    @Test func highRunsOfAnyTenantGoFirstButNormalOnesStillProgress() async throws {
        try await withAdmission(limit: 100, floor: 0) { admission, redis in
            let (bulk, urgent) = (TenantID(), TenantID())
            try await admission.register(worker: "w1", concurrency: 1, lifetime: .seconds(30))
            try await admission.admit((0..<100).map { _ in entry(bulk, .normal) })
            var running = try await readAll(admission, redis)
            try await admission.admit((0..<100).map { _ in entry(urgent, .high) })
            var served: [RunPriority] = []
            for _ in 0..<32 {
                try await admission.release(running.removeFirst(), group: admission.keys.workerGroup)
                let next = try await readAll(admission, redis)
                served += next.map(\.priority)
                running += next
            }
            let high = served.filter { $0 == .high }.count
            #expect(high >= 24, "high runs take most freed slots: \(served)")
            #expect(served.count - high >= 2, "normal runs are not starved: \(served)")
        }
    }

    @Test func scheduledRunsAreAdmittedWhenDueAndNotBefore() async throws {
        try await withAdmission(limit: 10) { admission, redis in
            let tenant = TenantID()
            let now = Date()
            let (due, later) = (entry(tenant, .high), entry(tenant))
            try await admission.schedule([(due, now.addingTimeInterval(-1)), (later, now.addingTimeInterval(60))])
            #expect(try await readAll(admission, redis).isEmpty, "scheduling admits nothing")
            #expect(try await admission.promoteScheduled(now: now) == 1)
            let first = try await readAll(admission, redis)
            #expect(first.map(\.runID) == [due.runID])
            #expect(first.first?.priority == .high)
            #expect(try await admission.promoteScheduled(now: now.addingTimeInterval(59)) == 0)
            #expect(try await admission.promoteScheduled(now: now.addingTimeInterval(61)) == 1)
            #expect(try await readAll(admission, redis).map(\.runID) == [later.runID])
            #expect(try await redis.send(["ZCARD", RedisArgument(admission.keys.scheduledRuns)]).int == 0)
        }
    }
}
