import Foundation

/// The queue's figures as an operator or an autoscaler reads them: per work stream its length, the consumer group's
/// lag (entries not yet delivered) and pending count (delivered, not acknowledged), and how long the oldest
/// undelivered entry has waited; the delayed set; the dead letters; and each busy tenant's admitted and waiting runs.
public struct QueueStats: Sendable, Codable, Equatable {
    public struct Stream: Sendable, Codable, Equatable {
        public var name: String
        public var length: Int
        public var lag: Int
        public var pending: Int
        public var oldestWaitingMilliseconds: Int?

        enum CodingKeys: String, CodingKey {
            case name, length, lag, pending
            case oldestWaitingMilliseconds = "oldest_waiting_ms"
        }
    }

    public struct Tenant: Sendable, Codable, Equatable {
        public var tenantID: TenantID
        public var inFlight: Int
        public var backlog: Int

        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id"
            case inFlight = "in_flight"
            case backlog
        }
    }

    /// A consumer of the work streams (a worker process) as the consumer group and the registrations see it.
    public struct Worker: Sendable, Codable, Equatable {
        public var name: String
        /// Entries delivered to it and not yet acknowledged, over the work streams.
        public var pending: Int
        /// Milliseconds since it last read or claimed (the least over the streams); `nil` when it never read.
        public var idleMilliseconds: Int?
        /// Its registered slots; `nil` when its registration expired (it stopped or died).
        public var slots: Int?

        enum CodingKeys: String, CodingKey {
            case name, pending, slots
            case idleMilliseconds = "idle_ms"
        }
    }

    public var streams: [Stream]
    /// Totals over the work streams: what KEDA's lag trigger and the pending trigger scale on.
    public var lag: Int
    public var pending: Int
    public var oldestWaitingMilliseconds: Int?
    public var delayed: Int
    public var deadLetters: Int
    /// Busy tenants, most waiting runs first.
    public var tenants: [Tenant]
    /// Runs that ended in the last 60 seconds (counted when they released their slot), and per second.
    public var finishedLastMinute: Int
    public var runsPerSecond: Double
    /// Consumers of the work streams and registered workers, by name.
    public var workers: [Worker]

    enum CodingKeys: String, CodingKey {
        case streams, lag, pending, delayed, tenants, workers
        case finishedLastMinute = "finished_last_minute"
        case runsPerSecond = "runs_per_second"
        case oldestWaitingMilliseconds = "oldest_waiting_ms"
        case deadLetters = "dead_letters"
    }

    /// Reads the figures (a few pipelined commands per stream, and two per busy tenant).
    public static func read(admission: Admission, now: Date = Date()) async throws -> QueueStats {
        let keys = admission.keys
        let redis = admission.redis
        var streams: [Stream] = []
        var consumers: [String: Worker] = [:]
        for name in keys.workStreams {
            let replies = try await redis.pipeline([
                ["XLEN", RedisArgument(name)], ["XINFO", "GROUPS", RedisArgument(name)],
                ["XINFO", "CONSUMERS", RedisArgument(name), RedisArgument(keys.workerGroup)],
            ])
            for consumer in replies[2].array?.compactMap(\.fieldMap) ?? [] {
                guard let worker = consumer["name"]?.string else { continue }
                var seen = consumers[worker] ?? Worker(name: worker, pending: 0)
                seen.pending += consumer["pending"]?.int ?? 0
                if let idle = consumer["idle"]?.int { seen.idleMilliseconds = min(seen.idleMilliseconds ?? idle, idle) }
                consumers[worker] = seen
            }
            var stream = Stream(name: name, length: replies[0].int ?? 0, lag: 0, pending: 0)
            // XINFO GROUPS errors for a stream that does not exist yet: nothing waits there.
            let group = replies[1].array?.compactMap(\.fieldMap).first { $0["name"]?.string == keys.workerGroup }
            if let group {
                stream.pending = group["pending"]?.int ?? 0
                stream.lag = group["lag"]?.int ?? stream.length
                if stream.lag > 0, let delivered = group["last-delivered-id"]?.string {
                    let next = try await redis.send(["XRANGE", RedisArgument(name), RedisArgument("(" + delivered), "+", "COUNT", "1"])
                    if let id = next.array?.first?.array?.first?.string, let millis = id.split(separator: "-").first.flatMap({ Int($0) }) {
                        stream.oldestWaitingMilliseconds = max(0, Int(now.timeIntervalSince1970 * 1000) - millis)
                    }
                }
            }
            streams.append(stream)
        }
        let counts = try await redis.pipeline([
            ["ZCARD", RedisArgument(keys.delayedSet)], ["XLEN", RedisArgument(keys.deadLetterStream)], ["TIME"],
            ["HGETALL", RedisArgument(keys.workersConcurrency)],
            ["ZRANGE", RedisArgument(keys.workersAlive), "0", "-1", "WITHSCORES"],
        ])
        // Registrations expire by Redis's clock (the register script's TIME), so they are compared with it too.
        let time = counts[2].array?.compactMap(\.int) ?? []
        let redisNow = time.count == 2 ? time[0] * 1000 + time[1] / 1000 : Int(now.timeIntervalSince1970 * 1000)
        let alive = Set((counts[4].fieldMap ?? [:]).compactMap { name, until in (until.string.flatMap(Double.init) ?? 0) > Double(redisNow) ? name : nil })
        for (worker, slots) in counts[3].fieldMap ?? [:] where alive.contains(worker) {
            consumers[worker, default: Worker(name: worker, pending: 0)].slots = slots.int
        }
        // The second now running and the 59 before it, by Redis's clock.
        let second = counts[2].array?.first?.int ?? Int(now.timeIntervalSince1970)
        let perSecond = try await redis.send(["MGET"] + (0..<60).map { RedisArgument(keys.finishedInSecond(second - $0)) })
        let finished = perSecond.array?.reduce(0) { $0 + ($1.int ?? 0) } ?? 0
        let tenants = try await admission.load()
            .map { Tenant(tenantID: $0.tenant, inFlight: $0.admitted, backlog: $0.waiting) }
            .sorted { ($0.backlog, $0.inFlight) > ($1.backlog, $1.inFlight) }
        return QueueStats(
            streams: streams, lag: streams.reduce(0) { $0 + $1.lag }, pending: streams.reduce(0) { $0 + $1.pending },
            oldestWaitingMilliseconds: streams.compactMap(\.oldestWaitingMilliseconds).max(),
            delayed: counts[0].int ?? 0, deadLetters: counts[1].int ?? 0, tenants: tenants,
            finishedLastMinute: finished, runsPerSecond: Double(finished) / 60,
            workers: consumers.values.sorted { $0.name < $1.name }
        )
    }
}
