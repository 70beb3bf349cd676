import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import Shared
import Synchronization

/// Watches PostgreSQL and Redis (a ping each per `interval`), so requests fail fast with 503 while one is down
/// instead of queueing behind a pool that cannot connect.
final class DependencyMonitor: Service, Sendable {
    let postgres: PostgresClient
    let redis: RedisClient
    let interval: Duration
    private let postgresUp = Atomic<Bool>(true)
    private let redisUp = Atomic<Bool>(true)

    init(postgres: PostgresClient, redis: RedisClient, interval: Duration = .seconds(1)) {
        self.postgres = postgres
        self.redis = redis
        self.interval = interval
    }

    /// `false` from the first failed check until the next successful one.
    var isPostgresUp: Bool { postgresUp.load(ordering: .relaxed) }
    var isRedisUp: Bool { redisUp.load(ordering: .relaxed) }

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
        postgresUp.store(await postgresOK, ordering: .relaxed)
        redisUp.store(await redisOK, ordering: .relaxed)
    }
}

/// For `/api`: 503 at once while PostgreSQL is known to be down, and a deadline on every handler so that nothing
/// hangs when it goes down mid-request (the handler is cancelled; postgres-nio gives up its connection request).
struct AvailabilityMiddleware: RouterMiddleware {
    let monitor: DependencyMonitor
    var deadline: Duration = .seconds(5)

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        guard monitor.isPostgresUp else { throw NetraError.unavailable }
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
