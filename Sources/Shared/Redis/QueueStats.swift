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

    public var streams: [Stream]
    /// Totals over the work streams: what KEDA's lag trigger and the pending trigger scale on.
    public var lag: Int
    public var pending: Int
    public var oldestWaitingMilliseconds: Int?
    public var delayed: Int
    public var deadLetters: Int
    /// Busy tenants, most waiting runs first.
    public var tenants: [Tenant]

    enum CodingKeys: String, CodingKey {
        case streams, lag, pending, delayed, tenants
        case oldestWaitingMilliseconds = "oldest_waiting_ms"
        case deadLetters = "dead_letters"
    }

    /// Reads the figures (a few pipelined commands per stream, and two per busy tenant).
    public static func read(admission: Admission, now: Date = Date()) async throws -> QueueStats {
        let keys = admission.keys
        let redis = admission.redis
        var streams: [Stream] = []
        for name in keys.workStreams {
            let replies = try await redis.pipeline([["XLEN", RedisArgument(name)], ["XINFO", "GROUPS", RedisArgument(name)]])
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
        let counts = try await redis.pipeline([["ZCARD", RedisArgument(keys.delayedSet)], ["XLEN", RedisArgument(keys.deadLetterStream)]])
        let tenants = try await admission.load()
            .map { Tenant(tenantID: $0.tenant, inFlight: $0.admitted, backlog: $0.waiting) }
            .sorted { ($0.backlog, $0.inFlight) > ($1.backlog, $1.inFlight) }
        return QueueStats(
            streams: streams, lag: streams.reduce(0) { $0 + $1.lag }, pending: streams.reduce(0) { $0 + $1.pending },
            oldestWaitingMilliseconds: streams.compactMap(\.oldestWaitingMilliseconds).max(),
            delayed: counts[0].int ?? 0, deadLetters: counts[1].int ?? 0, tenants: tenants
        )
    }
}
