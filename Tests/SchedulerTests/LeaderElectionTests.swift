import Foundation
import Shared
import SharedTestSupport
import Testing

@testable import Scheduler

@Suite("Scheduler leader election on a real Redis")
struct LeaderElectionTests {
    let logger = TestEnvironment.logger("leader")

    @Test func oneLeaderAtATimeAndAStandbyTakesOver() async throws {
        let key = "\(TestEnvironment.uniquePrefix()):scheduler:leader"
        let ttl = Duration.seconds(3)
        let redisA = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        let redisB = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        let a = LeaderElection(redis: redisA, key: key, instanceID: "a", ttl: ttl, logger: logger)
        let b = LeaderElection(redis: redisB, key: key, instanceID: "b", ttl: ttl, logger: logger)

        await a.attempt()
        await b.attempt()
        #expect(a.isLeader && !b.isLeader)
        // Renewing at the scheduler's own pace (a third of the TTL) keeps the lock over several TTLs.
        for _ in 0..<4 {
            try await Task.sleep(for: ttl / 3)
            await a.attempt()
            await b.attempt()
            #expect(a.isLeader && !b.isLeader)
        }

        // A dies without releasing (as with SIGKILL): b takes over once the lock expires.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await b.run() }
            let clock = ContinuousClock()
            let died = clock.now
            try await waitUntil("b to become leader", timeout: .seconds(10)) { b.isLeader }
            #expect(clock.now - died < ttl * 3)
            #expect(try await redisA.send(["GET", RedisArgument(key)]).string == "b")
            group.cancelAll()
        }
        redisA.close()
        redisB.close()
    }
}
