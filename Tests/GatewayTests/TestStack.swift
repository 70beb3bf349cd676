import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
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

    /// Runs `body` with the whole stack up; shuts everything down afterwards.
    static func run(workers: Int = 2, _ body: @escaping @Sendable (TestStack) async throws -> Void) async throws {
        let service = TestEnvironment.service()
        let logger = TestEnvironment.logger("stack")
        let app = try await buildApplication(gatewayConfiguration(service), logger: logger)
        var groups: [ServiceGroup] = []
        for index in 0..<workers {
            let config = WorkerConfiguration(
                service: service, concurrency: 8, heartbeatInterval: .milliseconds(500), leaseDuration: .seconds(5),
                consumerName: "worker-\(index)"
            )
            groups.append(ServiceGroup(configuration: .init(services: buildWorkerServices(config, logger: logger), logger: logger)))
        }
        let scheduler = buildScheduler(
            SchedulerConfiguration(service: service, host: "127.0.0.1", port: 0, leaderTTL: .seconds(2), instanceID: "scheduler-test"),
            logger: logger
        )
        groups.append(ServiceGroup(configuration: .init(services: [scheduler], logger: logger)))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for group in groups { tasks.addTask { try await group.run() } }
            do {
                try await app.test(.live) { client in
                    try await body(TestStack(client: client, service: service, logger: logger))
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
