import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import Shared
import Synchronization

/// Watches PostgreSQL and Redis (a ping each per `interval`), so requests fail fast with 503 while one is down
/// instead of queueing behind a pool that cannot connect.
///
/// A dependency counts as down only after `failuresBeforeDown` probes in a row failed: one probe that misses its
/// 1-second timeout because every pooled connection is busy (a burst of requests, a slow commit) is load, not an
/// outage, and must not turn the whole API into 503s. One successful probe marks it up again.
final class DependencyMonitor: Service, Sendable {
    let postgres: PostgresClient
    let redis: RedisClient
    let interval: Duration
    let failuresBeforeDown: Int
    private let postgresFailures = Atomic<Int>(0)
    private let redisFailures = Atomic<Int>(0)

    init(postgres: PostgresClient, redis: RedisClient, interval: Duration = .seconds(1), failuresBeforeDown: Int = 3) {
        self.postgres = postgres
        self.redis = redis
        self.interval = interval
        self.failuresBeforeDown = failuresBeforeDown
    }

    /// `false` from the `failuresBeforeDown`-th failed check in a row until the next successful one.
    var isPostgresUp: Bool { postgresFailures.load(ordering: .relaxed) < failuresBeforeDown }
    var isRedisUp: Bool { redisFailures.load(ordering: .relaxed) < failuresBeforeDown }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.check()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    func check() async {
        let postgres = postgres
        let redis = redis
        async let postgresOK = (try? await withTimeout(.seconds(1)) { try await postgres.query("SELECT 1") }) != nil
        async let redisOK = (try? await redis.send(["PING"], timeout: .seconds(1))) != nil
        Self.record(await postgresOK, in: postgresFailures)
        Self.record(await redisOK, in: redisFailures)
    }

    private static func record(_ ok: Bool, in failures: borrowing Atomic<Int>) {
        if ok {
            failures.store(0, ordering: .relaxed)
        } else {
            failures.add(1, ordering: .relaxed)
        }
    }
}

/// For `/api`: 503 at once while PostgreSQL is known to be down, and a deadline on every handler so that nothing
/// hangs when it goes down mid-request (the handler is cancelled; postgres-nio gives up its connection request).
///
/// The deadline also covers receiving the request body, so the routes that take large uploads (workload data, up
/// to 32 MiB) get `uploadDeadline` instead: such a body may take longer than 5 s to arrive from a busy or distant
/// client, and that is no outage.
struct AvailabilityMiddleware: RouterMiddleware {
    let monitor: DependencyMonitor
    var deadline: Duration = .seconds(5)
    var uploadDeadline: Duration = .seconds(120)
    /// `POST` paths whose body may be large.
    static let uploadPaths: Set<String> = ["/api/workloads/events"]

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        guard monitor.isPostgresUp else { throw NetraError.unavailable }
        let deadline = request.method == .post && Self.uploadPaths.contains(request.uri.path) ? uploadDeadline : deadline
        return try await withoutActuallyEscaping(next) { next in
            // `@unchecked Sendable`: the closure runs in a child task that finishes before this call returns.
            let handler = UncheckedSendable(next)
            return try await withTimeout(deadline) { try await handler.value(request, context) }
        }
    }
}

/// Carries a non-Sendable value into a child task that is awaited before the value's owner returns.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
