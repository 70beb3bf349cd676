import Metrics
import Shared
import Synchronization

/// Publishes the queue's figures (`QueueStats`) as gauges: per work stream its length, lag and pending count, the
/// oldest waiting age, the delayed and scheduled sets, and per tenant its backlog and in-flight runs. Tenant labels
/// are bounded: the `topTenants` with the largest backlog get their own series, the rest are summed as `other`, and
/// a tenant that drops out of the top is set back to zero so its series does not freeze at an old value.
final class QueueMetrics: Sendable {
    let admission: Admission
    let topTenants: Int
    private let reported = Mutex<Set<String>>([])

    init(admission: Admission, topTenants: Int = 10) {
        self.admission = admission
        self.topTenants = topTenants
    }

    func update() async throws {
        let stats = try await QueueStats.read(admission: admission)
        for stream in stats.streams {
            NetraMetric.gauge(NetraMetric.queueLength, [("stream", stream.name)]).record(stream.length)
            NetraMetric.gauge(NetraMetric.queueLag, [("stream", stream.name)]).record(stream.lag)
            NetraMetric.gauge(NetraMetric.queuePending, [("stream", stream.name)]).record(stream.pending)
        }
        NetraMetric.gauge(NetraMetric.queueOldestWaiting).record(Double(stats.oldestWaitingMilliseconds ?? 0) / 1000)
        NetraMetric.gauge(NetraMetric.delayedRuns).record(stats.delayed)
        let scheduled = try await admission.redis.send(["ZCARD", RedisArgument(admission.keys.scheduledRuns)]).int ?? 0
        NetraMetric.gauge(NetraMetric.scheduledRuns).record(scheduled)

        // `stats.tenants` is sorted by backlog, then in-flight runs.
        var series: [String: (backlog: Int, inFlight: Int)] = ["other": (0, 0)]
        for (index, tenant) in stats.tenants.enumerated() {
            let label = index < topTenants ? tenant.tenantID.description : "other"
            let current = series[label] ?? (0, 0)
            series[label] = (current.backlog + tenant.backlog, current.inFlight + tenant.inFlight)
        }
        let gone = reported.withLock { reported in
            let gone = reported.subtracting(series.keys)
            reported = Set(series.keys)
            return gone
        }
        for label in gone { series[label] = (0, 0) }
        for (label, value) in series {
            NetraMetric.gauge(NetraMetric.tenantBacklog, [("tenant", label)]).record(value.backlog)
            NetraMetric.gauge(NetraMetric.tenantInFlight, [("tenant", label)]).record(value.inFlight)
        }
    }
}
