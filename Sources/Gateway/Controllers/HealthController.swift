import Foundation
import Hummingbird
import PostgresNIO
import Shared

/// `/health` (the process is up), `/health/ready` (503 until Redis and PostgreSQL answer) and
/// `/health/dependencies` (each dependency with its status and round-trip time).
struct HealthController: Sendable {
    let postgres: PostgresClient
    let redis: RedisClient
    var timeout: Duration = .seconds(1)

    struct Dependency: Encodable {
        let status: String
        let latencyMilliseconds: Double?
        let error: String?
        enum CodingKeys: String, CodingKey {
            case status
            case latencyMilliseconds = "latency_ms"
            case error
        }
    }

    func addRoutes(to router: Router<GatewayContext>) {
        router.get("/health") { _, _ in try jsonResponse(["status": "ok"]) }
        router.get("/health/ready") { _, _ in
            let checks = await check()
            let ready = checks.values.allSatisfy { $0.status == "up" }
            return try jsonResponse(["status": ready ? "ready" : "not_ready"], status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/health/dependencies") { _, _ in
            let checks = await check()
            let ready = checks.values.allSatisfy { $0.status == "up" }
            return try jsonResponse(checks, status: ready ? .ok : .serviceUnavailable)
        }
    }

    /// Pings both dependencies concurrently, each within `timeout`.
    func check() async -> [String: Dependency] {
        async let redisCheck = measure { _ = try await redis.send(["PING"], timeout: timeout) }
        async let postgresCheck = measure { [postgres] in try await postgres.query("SELECT 1") }
        return await ["redis": redisCheck, "postgres": postgresCheck]
    }

    private func measure(_ body: @escaping @Sendable () async throws -> Void) async -> Dependency {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await withTimeout(timeout) { try await body() }
            let elapsed = clock.now - start
            return Dependency(status: "up", latencyMilliseconds: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000, error: nil)
        } catch {
            return Dependency(status: "down", latencyMilliseconds: nil, error: error is TimeoutError ? "timeout" : "unreachable")
        }
    }
}
