import Foundation
import Logging
import Shared

/// Keeps the work streams from growing forever (Redis runs with `noeviction`): removes every entry older than both
/// the consumer group's last delivered entry and the oldest pending one, that is, entries delivered and acknowledged.
/// The dead-letter stream keeps its newest `deadLetterLimit` entries.
///
/// It also forgets consumers of stopped workers: a consumer with nothing pending whose worker's registration lapsed
/// and that has been idle for `forgetConsumersAfter` is deleted from the group (autoscaled workers get new names, so
/// otherwise the group, and the console's list of workers, would grow forever). Nothing is lost: a consumer with
/// pending entries stays, and a worker that reads again is a consumer again.
struct StreamTrimmer: Sendable {
    let redis: RedisClient
    let keys: RedisKeys
    var deadLetterLimit = 10_000
    var forgetConsumersAfter: Duration = .seconds(600)

    /// Trims every work stream; returns how many entries went.
    @discardableResult
    func sweep(logger: Logger) async throws -> Int {
        var removed = 0
        for stream in keys.workStreams {
            guard let floor = try await trimPoint(stream) else { continue }
            removed += try await redis.send(["XTRIM", RedisArgument(stream), "MINID", RedisArgument(floor)]).int ?? 0
        }
        _ = try await redis.send(["XTRIM", RedisArgument(keys.deadLetterStream), "MAXLEN", "~", RedisArgument(deadLetterLimit)])
        if removed > 0 { logger.debug("Trimmed the work streams", metadata: ["entries": "\(removed)"]) }
        let forgotten = try await forgetGoneConsumers()
        if forgotten > 0 { logger.info("Forgot the consumers of stopped workers", metadata: ["consumers": "\(forgotten)"]) }
        return removed
    }

    /// Deletes the idle, empty consumers of workers that are no longer registered; returns how many went.
    @discardableResult
    func forgetGoneConsumers(now: Date = Date()) async throws -> Int {
        let nowMilliseconds = Int(now.timeIntervalSince1970 * 1000)
        let alive = try await redis.send([
            "ZRANGEBYSCORE", RedisArgument(keys.workersAlive), RedisArgument("(" + String(nowMilliseconds)), "+inf",
        ])
        let registered = Set(alive.array?.compactMap(\.string) ?? [])
        var forgotten = 0
        for stream in keys.workStreams {
            let reply = try await redis.send(["XINFO", "CONSUMERS", RedisArgument(stream), RedisArgument(keys.workerGroup)])
            for consumer in reply.array?.compactMap(\.fieldMap) ?? [] {
                guard let name = consumer["name"]?.string, !registered.contains(name), consumer["pending"]?.int == 0,
                    let idle = consumer["idle"]?.int, idle >= Int(forgetConsumersAfter.wholeMilliseconds)
                else { continue }
                _ = try await redis.send(["XGROUP", "DELCONSUMER", RedisArgument(stream), RedisArgument(keys.workerGroup), RedisArgument(name)])
                forgotten += 1
            }
        }
        return forgotten
    }

    /// The smallest id that must stay: the oldest pending entry, else the entry after the last delivered one.
    private func trimPoint(_ stream: String) async throws -> String? {
        let replies = try await redis.pipeline([
            ["XINFO", "GROUPS", RedisArgument(stream)],
            ["XPENDING", RedisArgument(stream), RedisArgument(keys.workerGroup), "-", "+", "1"],
        ])
        guard let groups = replies[0].array else { return nil }  // no stream yet
        let group = groups.compactMap(\.fieldMap).first { $0["name"]?.string == keys.workerGroup }
        guard let delivered = group?["last-delivered-id"]?.string, delivered != "0-0" else { return nil }
        if let oldestPending = replies[1].array?.first?.array?.first?.string { return oldestPending }
        // Nothing pending: everything up to and including the last delivered entry is acknowledged.
        return Self.successor(of: delivered)
    }

    /// The stream id right after `id` (`ms-seq` → `ms-(seq+1)`).
    static func successor(of id: String) -> String? {
        let parts = id.split(separator: "-")
        guard parts.count == 2, let sequence = UInt64(parts[1]) else { return nil }
        return "\(parts[0])-\(sequence + 1)"
    }
}
