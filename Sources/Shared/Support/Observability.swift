import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// The process's metrics: swift-metrics bootstrapped with swift-prometheus once per process, and a `/metrics` route
/// serving the Prometheus text format. Every process calls `bootstrap()` before it creates any metric (metrics made
/// earlier would go nowhere).
public enum Observability {
    /// The registry behind swift-metrics; made and bootstrapped on first use, so tests that build many stacks in one
    /// process bootstrap once.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Stages and round trips span microseconds (a Redis call) to minutes (an agent stage).
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    public static func bootstrap() { _ = registry }

    /// Adds `GET /metrics` (Prometheus text format 0.0.4).
    public static func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16_384)
            registry.emit(into: &bytes)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}

/// The metric names Netra exports, in one place.
public enum NetraMetric {
    public static let runsSubmitted = "netra_runs_submitted_total"
    public static let runsStarted = "netra_runs_started_total"
    public static let runsFinished = "netra_runs_finished_total"
    public static let stageDuration = "netra_stage_duration_seconds"
    public static let runsReclaimed = "netra_runs_reclaimed_total"
    public static let runsDead = "netra_runs_dead_total"
    public static let queueLength = "netra_queue_length"
    public static let queueLag = "netra_queue_lag"
    public static let queuePending = "netra_queue_pending"
    public static let queueOldestWaiting = "netra_queue_oldest_waiting_seconds"
    public static let delayedRuns = "netra_delayed_runs"
    public static let scheduledRuns = "netra_scheduled_runs"
    public static let tenantBacklog = "netra_tenant_backlog"
    public static let tenantInFlight = "netra_tenant_in_flight"
    public static let webSocketConnections = "netra_websocket_connections"
    public static let webSocketMessages = "netra_websocket_messages_total"
    public static let redisRoundTrip = "netra_redis_roundtrip_seconds"
    public static let postgresBatch = "netra_postgres_batch_seconds"
}

extension NetraMetric {
    /// A counter with dimensions (bootstrapping metrics first, so it is never bound to the no-op backend).
    public static func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Metrics.Counter {
        Observability.bootstrap()
        return Metrics.Counter(label: label, dimensions: dimensions)
    }

    public static func timer(_ label: String, _ dimensions: [(String, String)] = []) -> Metrics.Timer {
        Observability.bootstrap()
        return Metrics.Timer(label: label, dimensions: dimensions, preferredDisplayUnit: .seconds)
    }

    public static func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> Metrics.Gauge {
        Observability.bootstrap()
        return Metrics.Gauge(label: label, dimensions: dimensions)
    }

    /// Round trips of ordinary Redis commands and pipelines (not blocking reads).
    static let redisTimer = timer(redisRoundTrip)
}
