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
    func forgetGoneConsumers() async throws -> Int {
        var forgotten = 0
        for stream in keys.workStreams {
            let reply = try await Self.forgetScript.run(
                on: redis, keys: [stream, keys.workersAlive],
                arguments: [RedisArgument(keys.workerGroup), RedisArgument(Int(forgetConsumersAfter.wholeMilliseconds))]
            )
            forgotten += reply.int ?? 0
        }
        return forgotten
    }

    /// KEYS: the stream, the live workers' registrations. ARGV: the group, the idle threshold in ms. One script, so
    /// a worker that reads an entry (or registers) between the check and the deletion cannot lose it; the clock is
    /// Redis's, the same one the registrations use. A stream or group that does not exist yet has no consumers.
    static let forgetScript = RedisScript(
        """
        local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
        if not ok then return 0 end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local removed = 0
        for _, consumer in ipairs(consumers) do
          local fields = {}
          for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
          local registeredUntil = tonumber(redis.call('ZSCORE', KEYS[2], fields['name']) or '0')
          if fields['pending'] == 0 and fields['idle'] >= tonumber(ARGV[2]) and registeredUntil <= now then
            redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
            removed = removed + 1
          end
        end
        return removed
        """
    )

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
