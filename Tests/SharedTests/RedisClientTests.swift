import Foundation
import NIOCore
import ServiceLifecycle
import Shared
import SharedTestSupport
import Testing

@Suite("Redis client against a real redis-server")
struct RedisClientTests {
    let logger = TestEnvironment.logger("redis-test")
    let key = "test:\(UUID().uuidString)"

    @Test func pipelinedCommandsReturnRepliesInOrder() async throws {
        let client = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { client.close() }
        let replies = try await client.pipeline((1...500).map { _ in ["INCR", RedisArgument(key)] })
        #expect(replies.map(\.int) == (1...500).map { Optional($0) })
        // Concurrent callers share the connection and each gets its own reply.
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<100 { group.addTask { try await client.send(["INCR", RedisArgument(key)]).int ?? -1 } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(Set(values) == Set(501...600))
        try await client.send(["DEL", RedisArgument(key)])
    }

    @Test func binaryPayloadsRoundTrip() async throws {
        let client = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { client.close() }
        let bytes: [UInt8] = [0, 13, 10, 255, 36, 42, 0]
        try await client.send(["SET", RedisArgument(key), RedisArgument(bytes: bytes)])
        let reply = try await client.send(["GET", RedisArgument(key)])
        guard case .bulkString(let buffer) = reply else {
            Issue.record("expected a bulk string, got \(reply)")
            return
        }
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(try await client.send(["GET", RedisArgument("test:missing:\(UUID())")]) == .null)
        try await client.send(["DEL", RedisArgument(key)])
    }

    @Test func errorReplyIsThrownAsServerError() async throws {
        let client = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { client.close() }
        try await client.send(["SET", RedisArgument(key), "text"])
        await #expect {
            try await client.send(["INCR", RedisArgument(key)])
        } throws: { error in
            (error as? RedisError)?.kind == .server && (error as? RedisError)?.message.hasPrefix("ERR") == true
        }
        // In a pipeline the error is one reply among the others, and the connection stays usable.
        let replies = try await client.pipeline([["INCR", RedisArgument(key)], ["GET", RedisArgument(key)]])
        #expect(replies.count == 2)
        if case .error = replies[0] {} else { Issue.record("expected an error reply, got \(replies[0])") }
        #expect(replies[1].string == "text")
        try await client.send(["DEL", RedisArgument(key)])
    }

    @Test func blockingReadWakesWhenAnEntryArrives() async throws {
        let stream = "test:stream:\(UUID().uuidString)"
        let reader = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        let writer = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer {
            reader.close()
            writer.close()
        }
        try await writer.createGroup("g", on: stream)
        try await writer.createGroup("g", on: stream)  // a second create is harmless
        // A read with nothing to read returns empty after its block time.
        let empty = try await reader.readGroup("g", consumer: "c", stream: stream, count: 10, block: .milliseconds(50))
        #expect(empty.isEmpty)

        try await withThrowingTaskGroup(of: [StreamEntry].self) { group in
            group.addTask {
                try await reader.readGroup("g", consumer: "c", stream: stream, count: 10, block: .seconds(60))
            }
            // The writer adds once the reader is blocked (Redis lists it as a blocked client).
            try await waitUntil("reader blocked") {
                let info = try await writer.send(["CLIENT", "LIST"]).string ?? ""
                return info.contains("cmd=xreadgroup")
            }
            let id = try await writer.xadd(stream, fields: ["run": "r1", "tenant": "t1"])
            let clock = ContinuousClock()
            let start = clock.now
            let entries = try await group.next() ?? []
            #expect(clock.now - start < .seconds(30))  // woken by the entry, not by the block's end
            #expect(entries == [StreamEntry(id: id, fields: ["run": "r1", "tenant": "t1"], stream: stream)])
            #expect(try await writer.ack("g", stream: stream, ids: [id]) == 1)
        }
        try await writer.send(["DEL", RedisArgument(stream)])
    }

    @Test func subscriberDeliversPublishedMessages() async throws {
        let subscriber = RedisSubscriber(endpoint: TestEnvironment.redis, logger: logger)
        let publisher = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { publisher.close() }
        let channel = "test:channel:\(UUID().uuidString)"
        let other = "test:channel:\(UUID().uuidString)"
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await subscriber.run() }
            try await waitUntil("subscriber connected") {
                (try? await subscriber.withSubscription(to: "test:probe") { _ in true }) ?? false
            }
            let received = try await subscriber.withSubscription(to: channel) { stream in
                try await subscriber.withSubscription(to: other) { otherStream in
                    try await publisher.publish(ByteBuffer(string: "one"), on: channel)
                    try await publisher.publish(ByteBuffer(string: "elsewhere"), on: other)
                    try await publisher.publish(ByteBuffer(string: "two"), on: channel)
                    var iterator = otherStream.makeAsyncIterator()
                    #expect(await iterator.next() == .message(ByteBuffer(string: "elsewhere")))
                }
                var messages: [RedisSubscriber.Message] = []
                for await message in stream {
                    messages.append(message)
                    if messages.count == 2 { break }
                }
                return messages
            }
            #expect(received == [.message(ByteBuffer(string: "one")), .message(ByteBuffer(string: "two"))])
            // Once nobody watches, the channel is unsubscribed.
            try await waitUntil("unsubscribed") { subscriber.channelCount == 0 }
            try await waitUntil("no subscribers on the channel") {
                try await publisher.send(["PUBSUB", "NUMSUB", RedisArgument(channel)]).array?.last?.int == 0
            }
            group.cancelAll()
        }
    }

    @Test func clientReconnectsAfterTheServerRestarts() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        var options = RedisClient.Options()
        options.commandTimeout = .seconds(1)
        options.maximumBackoff = .milliseconds(200)
        let client = RedisClient(endpoint: server.endpoint, options: options, logger: logger)
        defer { client.close() }
        try await client.send(["SET", "k", "before"])

        server.kill()
        // While the server is down every call fails fast with a typed connection error; none hangs.
        let failure = await #expect(throws: RedisError.self) {
            try await withDeadline("a failing command") { try await client.send(["GET", "k"]) }
        }
        #expect(failure?.isConnectionFailure == true)

        try await server.start()
        try await waitUntil("the client reconnected", timeout: .seconds(10)) {
            try await client.send(["PING"]) == .simpleString("PONG")
        }
        try await client.send(["SET", "k", "after"])
        #expect(try await client.send(["GET", "k"]).string == "after")
        server.kill()
    }

    @Test func subscriberResubscribesAfterTheServerRestarts() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        var options = RedisClient.Options()
        options.maximumBackoff = .milliseconds(100)
        let subscriber = RedisSubscriber(endpoint: server.endpoint, options: options, pingInterval: .milliseconds(200), logger: logger)
        let publisher = RedisClient(endpoint: server.endpoint, options: options, logger: logger)
        defer { publisher.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await subscriber.run() }
            try await waitUntil("subscriber connected") {
                (try? await subscriber.withSubscription(to: "probe") { _ in true }) ?? false
            }
            try await subscriber.withSubscription(to: "events") { stream in
                var iterator = stream.makeAsyncIterator()
                server.kill()
                try await server.start()
                #expect(await iterator.next() == .resubscribed)
                try await publisher.publish(ByteBuffer(string: "after restart"), on: "events")
                #expect(await iterator.next() == .message(ByteBuffer(string: "after restart")))
            }
            group.cancelAll()
        }
        server.kill()
    }
}
