import Foundation
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@testable import Scheduler

@Suite("The reaper on a real Redis")
struct ReaperTests {
    let logger = TestEnvironment.logger("reaper")

    @Test func aStreamWithoutItsGroupNeitherStopsTheSweepNorStaysWithoutIt() async throws {
        let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { redis.close() }
        let keys = RedisKeys(prefix: TestEnvironment.uniquePrefix())
        // Only the normal-priority stream has its group; the recovery stream, swept first, has none yet.
        try await redis.createGroup(keys.workerGroup, on: keys.runStream)
        _ = try await redis.xadd(keys.runStream, fields: ["not": "a run"])
        let delivered = try await redis.readGroup(keys.workerGroup, consumer: "gone", streams: [keys.runStream], count: 1, block: nil)
        #expect(delivered.count == 1)
        let reaper = Reaper(
            redis: redis,
            store: RunStore(client: PostgresClient(configuration: TestEnvironment.postgres, backgroundLogger: logger)),
            admission: Admission(redis: redis, keys: keys, defaultLimit: 10),
            consumer: "reaper", minIdle: .zero, maxDeliveries: 5
        )
        let report = try await reaper.sweep(logger: logger)
        #expect(report.acknowledged == 1, "the pending entry behind the missing group was still examined")
        let pending = try await redis.send(["XPENDING", RedisArgument(keys.runStream), RedisArgument(keys.workerGroup)])
        #expect(pending.array?.first?.int == 0)
        let groups = try await redis.send(["XINFO", "GROUPS", RedisArgument(keys.recoveryStream)])
        #expect(groups.array?.count == 1, "the missing group was created")
        #expect(try await reaper.sweep(logger: logger) == Reaper.Report())
    }
}
