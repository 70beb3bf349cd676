import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

@Suite("Redis or PostgreSQL down: JSON 503s, no hangs, recovery when they return")
struct OutageTests {
    @Test func postgresUnreachableGives503Quickly() async throws {
        var service = TestEnvironment.service()
        service.postgres = try PostgresClient.Configuration(url: "postgres://netra:netra@127.0.0.1:1/netra_test")
        var config = TestStack.gatewayConfiguration(service)
        config.bcryptCost = 4
        let app = try await buildApplication(config, logger: TestEnvironment.logger("outage"), migrate: false)
        try await app.test(.live) { client in
            let clock = ContinuousClock()
            let start = clock.now
            let login = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"email":"a@example.com","password":"password1"}"#)
            )
            #expect(login.status == .serviceUnavailable, "\(String(buffer: login.body))")
            #expect(JSONValue(text: String(buffer: login.body))?["error"]?["code"]?.stringValue == "service_unavailable")
            #expect(clock.now - start < .seconds(8))
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
        }
    }

    @Test func oneMissedProbeIsLoadAndOnlyThreeInARowMarkPostgresDown() async throws {
        let logger = TestEnvironment.logger("monitor")
        let unreachable = PostgresClient(
            configuration: try PostgresClient.Configuration(url: "postgres://netra:netra@127.0.0.1:1/netra_test"), backgroundLogger: logger
        )
        let reachable = PostgresClient(configuration: TestEnvironment.postgres, backgroundLogger: logger)
        let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { redis.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await unreachable.run() }
            group.addTask { await reachable.run() }
            let monitor = DependencyMonitor(postgres: unreachable, redis: redis)
            for probe in 1...2 {
                await monitor.check()
                #expect(monitor.isPostgresUp, "probe \(probe) failed alone: not yet an outage")
            }
            await monitor.check()
            #expect(!monitor.isPostgresUp, "three failed probes in a row are an outage")
            #expect(monitor.isRedisUp)

            let healthy = DependencyMonitor(postgres: reachable, redis: redis)
            await healthy.check()
            #expect(healthy.isPostgresUp && healthy.isRedisUp)
            group.cancelAll()
        }
    }

    @Test func aSlowHandlerGets503ButALargeUploadHasLongerToArrive() async throws {
        let logger = TestEnvironment.logger("deadline")
        let redis = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { redis.close() }
        let monitor = DependencyMonitor(
            postgres: PostgresClient(configuration: TestEnvironment.postgres, backgroundLogger: logger), redis: redis
        )
        let router = Router(context: GatewayContext.self)
        router.add(middleware: ErrorMiddleware())
        let api = router.group("api").add(middleware: AvailabilityMiddleware(monitor: monitor, deadline: .milliseconds(100), uploadDeadline: .seconds(10)))
        // Both read their whole body first, as the upload route does, and then take longer than the short deadline.
        for path in ["workloads/events", "threads"] {
            api.post(RouterPath(path)) { request, _ -> String in
                let body = try await request.body.collect(upTo: 1 << 20)
                try await Task.sleep(for: .milliseconds(400))
                return "\(body.readableBytes)"
            }
        }
        let app = Application(router: router)
        try await app.test(.router) { client in
            let upload = try await client.execute(uri: "/api/workloads/events", method: .post, body: ByteBuffer(string: "rows"))
            #expect(upload.status == .ok && String(buffer: upload.body) == "4")
            let other = try await client.execute(uri: "/api/threads", method: .post, body: ByteBuffer(string: "{}"))
            #expect(other.status == .serviceUnavailable)
            #expect(JSONValue(text: String(buffer: other.body))?["error"]?["code"]?.stringValue == "service_unavailable")
        }
    }

    @Test func redisDownAcceptsRunsDurablyAndRunsThemWhenItReturns() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        var options = RecoveryTests.fastRecovery
        options.workers = 1
        options.redis = server.endpoint
        options.reconcileAfter = .milliseconds(500)
        options.reconcileInterval = .milliseconds(200)
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            server.kill()
            // PostgreSQL holds the run: the request succeeds although Redis is down.
            let id = try await stack.submit(#"{"message":"while redis is down","pipeline":"bench","parameters":{"stages":2}}"#, token: token)
            try await waitUntil("readiness to report Redis down") {
                try await stack.request(.get, "/health/ready").status == .serviceUnavailable
            }
            let dependencies = try stack.json(try await stack.request(.get, "/health/dependencies"))
            #expect(dependencies["redis"]?["status"]?.stringValue == "down")
            #expect(dependencies["postgres"]?["status"]?.stringValue == "up")
            // Redis returns empty (no persistence here): the worker recreates its group, the reconciler re-enqueues.
            try await server.start()
            let status = try await stack.waitForFinalStatus(id, token: token, timeout: .seconds(30))
            #expect(status["status"]?.stringValue == "succeeded")
            #expect(try await stack.request(.get, "/health/ready").status == .ok)
        }
        server.kill()
    }
}
