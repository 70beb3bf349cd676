import Foundation
import Shared
import SharedTestSupport
import Testing

/// Two `netra-scheduler` processes: SIGKILL the leader and the standby takes over within 10 s (the default lock TTL).
@Suite("Scheduler failover between processes")
struct FailoverTests {
    let logger = TestEnvironment.logger("failover")

    /// The built binary: `NETRA_TEST_SCHEDULER_BINARY`, or `.build/debug/netra-scheduler` (built by `scripts/test`).
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["NETRA_TEST_SCHEDULER_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/netra-scheduler").path
    }

    func launch(database: String, prefix: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        var environment = ProcessInfo.processInfo.environment
        environment["NETRA_REDIS_URL"] = TestEnvironment.redisURL
        environment["NETRA_DATABASE_URL"] = TestEnvironment.databaseURL(database: database)
        environment["NETRA_REDIS_PREFIX"] = prefix
        environment["NETRA_HTTP_PORT"] = "0"
        environment["NETRA_DATABASE_POOL_SIZE"] = "3"
        environment["NETRA_LOG_LEVEL"] = "warning"
        process.environment = environment
        try process.run()
        return process
    }

    /// The pid in the leader lock's value (`host-pid-suffix`), if a leader holds it.
    func leaderPID(_ redis: RedisClient, key: String) async throws -> Int32? {
        guard let holder = try await redis.send(["GET", RedisArgument(key)]).string else { return nil }
        let parts = holder.split(separator: "-")
        return parts.count >= 3 ? Int32(parts[parts.count - 2]) : nil
    }

    @Test func aStandbyTakesOverWithinTenSecondsOfTheLeadersSIGKILL() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build netra-scheduler first (scripts/test does)")
        try await withFreshDatabase { database in
            let prefix = TestEnvironment.uniquePrefix()
            let key = RedisKeys(prefix: prefix).schedulerLeader
            let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
            defer { redis.close() }
            let processes = [try launch(database: database, prefix: prefix), try launch(database: database, prefix: prefix)]
            defer { for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) } }

            try await waitUntil("one of the two to lead", timeout: .seconds(30)) {
                try await leaderPID(redis, key: key).map { pid in processes.contains { $0.processIdentifier == pid } } == true
            }
            let leader = try #require(try await leaderPID(redis, key: key))
            let standby = try #require(processes.first { $0.processIdentifier != leader })
            kill(leader, SIGKILL)
            let killed = ContinuousClock.now
            try await waitUntil("the standby to lead", timeout: .seconds(15)) {
                try await leaderPID(redis, key: key) == standby.processIdentifier
            }
            let takeover = ContinuousClock.now - killed
            #expect(takeover < .seconds(10), "took over after \(takeover)")
        }
    }
}
