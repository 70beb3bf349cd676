import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Shared
import SharedTestSupport
import Testing

@testable import Gateway
@testable import Scheduler
@testable import Worker

/// A running Netra for one test: the gateway (live, on a free port), N workers and a scheduler, all on the test
/// suite's real Redis and PostgreSQL, with a Redis prefix of their own.
struct TestStack {
    static let jwtSecret = "test-jwt-secret-0123456789abcdef0123456789"
    static let adminToken = "test-admin-token-0123456789"

    let client: any TestClientProtocol
    let service: ServiceConfiguration
    let logger: Logger
    /// A pool of the test's own on the test database, for checks the API does not expose.
    let db: PostgresClient

    var port: Int { client.port! }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func gatewayConfiguration(_ service: ServiceConfiguration) -> GatewayConfiguration {
        var config = GatewayConfiguration(
            service: service, host: "127.0.0.1", port: 0, jwtSecret: jwtSecret, tokenLifetime: .seconds(3600),
            adminToken: adminToken, heartbeatInterval: .milliseconds(300)
        )
        config.bcryptCost = 4
        return config
    }

    /// Timing of the stack's processes; tests of recovery shorten them.
    struct Options: Sendable {
        var workers = 2
        var heartbeat: Duration = .milliseconds(500)
        var lease: Duration = .seconds(5)
        var maxDeliveries = 5
        var reconcileAfter: Duration = .seconds(20)
        var reconcileInterval: Duration = .seconds(5)
        var sweepInterval: Duration = .milliseconds(200)
        var retryDelay: Duration = .milliseconds(50)
        /// Another Redis than the suite's (a private one a test can stop, or its TLS port).
        var redis: RedisEndpoint?
        /// TLS for every PostgreSQL connection of the stack (the database is still created over the plain admin pool).
        var postgresTLS: PostgresClient.Configuration.TLS?
        /// The gateway serves HTTPS and WSS with this; the stack's client then speaks HTTPS (without verifying:
        /// tests that verify the certificate bring their own client).
        var gatewayTLS: TLSConfiguration?
        /// The gateway's rate limits; `nil` keeps the generous defaults.
        var rateLimits: RateLimits?
        var trustedProxies = TrustedProxies()
        /// Completion webhooks: allowed hosts and the scheduler's signing secret (none: webhooks are not sent).
        var webhooks = WebhookPolicy()
        var webhookSecret: String?
    }

    /// Runs `body` with the whole stack up; shuts everything down afterwards.
    static func run(workers: Int = 2, _ body: @escaping @Sendable (TestStack) async throws -> Void) async throws {
        var options = Options()
        options.workers = workers
        try await run(options, body)
    }

    /// Runs `body` with the whole stack up, timed by `options`; shuts everything down afterwards.
    static func run(_ options: Options, _ body: @escaping @Sendable (TestStack) async throws -> Void) async throws {
        // A database of its own: the scheduler's sweeps cover every run in the database.
        try await withFreshDatabase { database in try await run(options, database: database, body) }
    }

    private static func run(_ options: Options, database: String, _ body: @escaping @Sendable (TestStack) async throws -> Void) async throws {
        var configured = TestEnvironment.service()
        configured.postgres = TestEnvironment.postgres(database: database)
        if let redis = options.redis { configured.redis = redis }
        if let tls = options.postgresTLS { configured.postgres.tls = tls }
        configured.webhooks = options.webhooks
        let service = configured
        let logger = TestEnvironment.logger("stack")
        var gatewayConfig = gatewayConfiguration(service)
        if let limits = options.rateLimits { gatewayConfig.rateLimits = limits }
        gatewayConfig.trustedProxies = options.trustedProxies
        gatewayConfig.tls = options.gatewayTLS
        let app = try await buildApplication(gatewayConfig, logger: logger)
        var groups: [ServiceGroup] = []
        for index in 0..<options.workers {
            var config = WorkerConfiguration(
                service: service, concurrency: 8, heartbeatInterval: options.heartbeat, leaseDuration: options.lease,
                consumerName: "worker-\(index)"
            )
            config.retryBaseDelay = options.retryDelay
            groups.append(ServiceGroup(configuration: .init(services: buildWorkerServices(config, logger: logger), logger: logger)))
        }
        var schedulerConfig = SchedulerConfiguration(service: service, host: "127.0.0.1", port: 0, leaderTTL: .seconds(2), instanceID: "scheduler-test")
        schedulerConfig.leaseDuration = options.lease
        schedulerConfig.maxDeliveries = options.maxDeliveries
        schedulerConfig.reconcileAfter = options.reconcileAfter
        schedulerConfig.reconcileInterval = options.reconcileInterval
        schedulerConfig.sweepInterval = options.sweepInterval
        schedulerConfig.webhookSecret = options.webhookSecret
        let scheduler = buildScheduler(schedulerConfig, logger: logger)
        let db = PostgresClient(configuration: service.postgres, backgroundLogger: logger)
        groups.append(ServiceGroup(configuration: .init(services: [scheduler, db], logger: logger)))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for group in groups { tasks.addTask { try await group.run() } }
            do {
                let setup: TestingSetup = options.gatewayTLS == nil ? .live : .ahc(.https)
                try await app.test(setup) { client in
                    try await body(TestStack(client: client, service: service, logger: logger, db: db))
                }
            } catch {
                for group in groups { await group.triggerGracefulShutdown() }
                throw error
            }
            for group in groups { await group.triggerGracefulShutdown() }
            try await tasks.waitForAll()
        }
    }

    // MARK: Requests

    /// Sends a request; `body` is encoded as JSON unless it is already a `String`.
    @discardableResult
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String? = nil,
        json: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    /// Creates a tenant with one user through the admin API and returns its access token.
    func tenantToken(email: String = "user-\(UUID().uuidString.prefix(8))@example.com", password: String = "correct horse") async throws -> String {
        let created = try await request(
            .post, "/api/admin/tenants", token: Self.adminToken,
            json: #"{"name":"Tenant","user":{"name":"User","email":"\#(email)","password":"\#(password)"}}"#
        )
        #expect(created.status == .created, "\(String(buffer: created.body))")
        let login = try await request(.post, "/api/auth/login", json: #"{"email":"\#(email)","password":"\#(password)"}"#)
        #expect(login.status == .ok)
        return try #require(try json(login)["access_token"]?.stringValue)
    }

    func json(_ response: TestResponse) throws -> JSONValue {
        try #require(JSONValue(text: String(buffer: response.body)), "not JSON: \(String(buffer: response.body))")
    }

    /// Waits until the run reaches a final status and returns its status body.
    func waitForFinalStatus(_ run: String, token: String, timeout: Duration = .seconds(30)) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let body = try json(try await request(.get, "/api/agent/status/\(run)", token: token))
            if let status = body["status"]?.stringValue, RunStatus(rawValue: status)?.isFinal == true { return body }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw WaitTimeout("run \(run) to finish")
    }
}

/// A `netra-worker` process of the test's stack, for tests that kill or signal it.
final class WorkerProcess: @unchecked Sendable {
    // `@unchecked Sendable`: used by one test at a time.
    let process = Process()

    /// The built binary: `NETRA_TEST_WORKER_BINARY`, or `.build/debug/netra-worker` (built by `scripts/test`).
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["NETRA_TEST_WORKER_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/netra-worker").path
    }

    init(service: ServiceConfiguration, heartbeat: Duration, lease: Duration) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw WaitTimeout("the worker binary at \(Self.binary); run `swift build --product netra-worker`")
        }
        process.executableURL = URL(fileURLWithPath: Self.binary)
        var environment = ProcessInfo.processInfo.environment
        environment["NETRA_REDIS_URL"] = TestEnvironment.redisURL
        environment["NETRA_DATABASE_URL"] = TestEnvironment.databaseURL(database: service.postgres.database ?? "")
        environment["NETRA_REDIS_PREFIX"] = service.keys.prefix
        environment["NETRA_HEARTBEAT_INTERVAL"] = Self.seconds(heartbeat)
        environment["NETRA_LEASE_DURATION"] = Self.seconds(lease)
        environment["NETRA_DATABASE_POOL_SIZE"] = "5"
        environment["NETRA_LOG_LEVEL"] = ProcessInfo.processInfo.environment["NETRA_TEST_LOG_LEVEL"] ?? "warning"
        process.environment = environment
        try process.run()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    private static func seconds(_ duration: Duration) -> String {
        String(Double(duration.wholeMilliseconds) / 1000)
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let process = process
        try await waitUntil("worker process to exit", timeout: timeout) { !process.isRunning }
        return process.terminationStatus
    }
}

extension TestStack {
    /// Submits a run over REST and returns its id.
    func submit(_ json: String, token: String, headers: HTTPFields = [:]) async throws -> String {
        let response = try await request(.post, "/api/agent/runs", token: token, json: json, headers: headers)
        #expect(response.status == .accepted, "\(String(buffer: response.body))")
        return try #require(try self.json(response)["run_id"]?.stringValue)
    }

    /// Runs a query on the test database and returns the first column of the first row.
    func scalar<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery) async throws -> T? {
        for try await value in try await db.query(query).decode(T.self) { return value }
        return nil
    }
}

extension JSONValue {
    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var intValue: Int? {
        if case .number(let value) = self { return Int(value) }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
