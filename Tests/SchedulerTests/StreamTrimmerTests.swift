import Foundation
import Shared
import SharedTestSupport
import Testing

@testable import Scheduler

@Suite("Trimming the work streams on a real Redis")
struct StreamTrimmerTests {
    let logger = TestEnvironment.logger("trimmer")

    @Test func onlyAcknowledgedEntriesLeave() async throws {
        let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { redis.close() }
        let keys = RedisKeys(prefix: TestEnvironment.uniquePrefix())
        for stream in keys.workStreams { try await redis.createGroup(keys.workerGroup, on: stream) }
        let stream = keys.runStream
        var ids: [String] = []
        for index in 0..<10 { ids.append(try await redis.xadd(stream, fields: ["n": String(index)])) }
        let delivered = try await redis.readGroup(keys.workerGroup, consumer: "c", streams: [stream], count: 6, block: nil)
        #expect(delivered.map(\.id) == Array(ids.prefix(6)))
        // Entries 0–3 acknowledged; 4 and 5 pending; 6–9 not delivered yet.
        _ = try await redis.ack(keys.workerGroup, stream: stream, ids: Array(ids.prefix(4)))
        let trimmer = StreamTrimmer(redis: redis, keys: keys)
        #expect(try await trimmer.sweep(logger: logger) == 4)
        #expect(try await redis.send(["XRANGE", RedisArgument(stream), "-", "+"]).array?.count == 6)
        #expect(try await trimmer.sweep(logger: logger) == 0, "nothing more is acknowledged")

        // Once everything is delivered and acknowledged, the stream empties; the group still reads new entries.
        let rest = try await redis.readGroup(keys.workerGroup, consumer: "c", streams: [stream], count: 10, block: nil)
        _ = try await redis.ack(keys.workerGroup, stream: stream, ids: Array(ids[4...5]) + rest.map(\.id))
        #expect(try await trimmer.sweep(logger: logger) == 6)
        #expect(try await redis.send(["XLEN", RedisArgument(stream)]).int == 0)
        let next = try await redis.xadd(stream, fields: ["n": "10"])
        #expect(try await redis.readGroup(keys.workerGroup, consumer: "c", streams: [stream], count: 1, block: nil).map(\.id) == [next])
    }

    @Test func consumersOfStoppedWorkersAreForgottenButNoPendingEntryIsLost() async throws {
        let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { redis.close() }
        let keys = RedisKeys(prefix: TestEnvironment.uniquePrefix())
        for stream in keys.workStreams { try await redis.createGroup(keys.workerGroup, on: stream) }
        let stream = keys.runStream
        for index in 0..<3 { _ = try await redis.xadd(stream, fields: ["n": String(index)]) }
        // "gone" read and acknowledged its entry; "busy" holds one unacknowledged; "alive" is registered.
        let gone = try await redis.readGroup(keys.workerGroup, consumer: "gone", streams: [stream], count: 1, block: nil)
        _ = try await redis.ack(keys.workerGroup, stream: stream, ids: gone.map(\.id))
        _ = try await redis.readGroup(keys.workerGroup, consumer: "busy", streams: [stream], count: 1, block: nil)
        let alive = try await redis.readGroup(keys.workerGroup, consumer: "alive", streams: [stream], count: 1, block: nil)
        _ = try await redis.ack(keys.workerGroup, stream: stream, ids: alive.map(\.id))
        let admission = Admission(redis: redis, keys: keys, defaultLimit: 10)
        try await admission.register(worker: "alive", concurrency: 4, lifetime: .seconds(60))

        func consumers() async throws -> Set<String> {
            let reply = try await redis.send(["XINFO", "CONSUMERS", RedisArgument(stream), RedisArgument(keys.workerGroup)])
            return Set(reply.array?.compactMap { $0.fieldMap?["name"]?.string } ?? [])
        }
        var trimmer = StreamTrimmer(redis: redis, keys: keys)
        #expect(try await trimmer.forgetGoneConsumers() == 0, "nobody has been idle for ten minutes")
        // Streams that do not exist yet (no group either) are no error.
        #expect(try await StreamTrimmer(redis: redis, keys: RedisKeys(prefix: TestEnvironment.uniquePrefix())).forgetGoneConsumers() == 0)
        trimmer.forgetConsumersAfter = .zero
        #expect(try await trimmer.forgetGoneConsumers() == 1)
        #expect(try await consumers() == ["busy", "alive"])
        // The busy consumer's entry is still pending, and a forgotten worker that reads again is a consumer again.
        #expect(try await redis.send(["XPENDING", RedisArgument(stream), RedisArgument(keys.workerGroup)]).array?.first?.int == 1)
        _ = try await redis.xadd(stream, fields: ["n": "3"])
        #expect(try await redis.readGroup(keys.workerGroup, consumer: "gone", streams: [stream], count: 1, block: nil).count == 1)
        #expect(try await consumers() == ["busy", "alive", "gone"])
    }
}
