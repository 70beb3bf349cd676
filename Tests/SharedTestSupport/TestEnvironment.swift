import Foundation
import Logging
import PostgresNIO
import Shared

/// Where the test suite's Redis and PostgreSQL are: started by `scripts/test`, overridable by environment.
///
/// - `NETRA_TEST_REDIS_URL` (default `redis://127.0.0.1:26380`)
/// - `NETRA_TEST_DATABASE_URL` (default `postgres://netra:netra@127.0.0.1:25434/netra_test`)
/// - `NETRA_TEST_REDIS_TLS_URL` (default `rediss://127.0.0.1:26381`): the same Redis's TLS port
/// - `NETRA_TEST_TLS_DIR` (default `.data/test/tls`): the certificates of `scripts/lib/tls.sh`, which the test
///   Redis's TLS port and the test PostgreSQL (`ssl=on`) serve
public enum TestEnvironment {
    static func env(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

    public static var redisURL: String { env("NETRA_TEST_REDIS_URL") ?? "redis://127.0.0.1:26380" }
    public static var databaseURL: String { env("NETRA_TEST_DATABASE_URL") ?? "postgres://netra:netra@127.0.0.1:25434/netra_test" }
    public static var redisTLSURL: String { env("NETRA_TEST_REDIS_TLS_URL") ?? "rediss://127.0.0.1:26381" }

    public static var redis: RedisEndpoint { RedisEndpoint(url: redisURL)! }

    /// The folder of the test certificates.
    public static var tlsDirectory: String {
        env("NETRA_TEST_TLS_DIR") ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".data/test/tls").path
    }

    /// A file of `tlsDirectory`: `ca.crt`, `server.crt`, `client.key`, `wrong-ca.crt`, `wrong-host.crt`…
    public static func tlsFile(_ name: String) -> String {
        URL(fileURLWithPath: tlsDirectory).appendingPathComponent(name).path
    }

    /// The test Redis's TLS port, trusting the test CA; `tls` replaces the TLS settings.
    public static func redisTLS(_ tls: RedisTLS = RedisTLS(caFile: tlsFile("ca.crt"))) -> RedisEndpoint {
        var endpoint = RedisEndpoint(url: redisTLSURL)!
        endpoint.tls = tls
        return endpoint
    }

    /// The test database's URL with libpq TLS parameters appended (`sslmode=verify-full&sslrootcert=…`).
    public static func databaseURL(tlsQuery: String) -> String {
        databaseURL + (databaseURL.contains("?") ? "&" : "?") + tlsQuery
    }

    public static var postgres: PostgresClient.Configuration {
        var configuration = try! PostgresClient.Configuration(url: databaseURL)
        // Small: the suite runs dozens of stacks at once (gateway, two workers, scheduler and the test's own client each),
        // and their pools together must stay under the test server's `max_connections`.
        configuration.options.maximumConnections = 6
        return configuration
    }

    /// The same server, another database.
    public static func postgres(database: String) -> PostgresClient.Configuration {
        var configuration = postgres
        configuration.database = database
        return configuration
    }

    /// The URL of another database on the same server.
    public static func databaseURL(database: String) -> String {
        guard var components = URLComponents(string: databaseURL) else { return databaseURL }
        components.path = "/" + database
        return components.string ?? databaseURL
    }

    /// Settings for a test's processes: the test services and a Redis prefix of its own, so tests running in
    /// parallel never share a stream.
    public static func service(prefix: String = uniquePrefix()) -> ServiceConfiguration {
        ServiceConfiguration(redis: redis, keys: RedisKeys(prefix: prefix), postgres: postgres, logLevel: .info)
    }

    public static func uniquePrefix() -> String { "test-\(UUID().uuidString.prefix(8).lowercased())" }

    /// A logger for tests: errors to standard error, unless `NETRA_TEST_LOG_LEVEL` says otherwise.
    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = env("NETRA_TEST_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }

    /// The path of `redis-server`, for tests that start and stop a server of their own.
    public static var redisServerPath: String {
        env("NETRA_TEST_REDIS_SERVER") ?? ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        } ?? "redis-server"
    }
}

/// Thrown when a condition waited for does not hold in time.
public struct WaitTimeout: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for \(what)" }
    public init(_ what: String) { self.what = what }
}

/// Re-checks `condition` (every 20 ms) until it holds, failing after `timeout`. Never a fixed sleep: it returns
/// as soon as the condition holds.
public func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(15),
    _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw WaitTimeout(what)
}

/// Runs `body` with `operation` racing a timeout; throws `WaitTimeout` if the deadline passes first.
public func withDeadline<T: Sendable>(
    _ what: String,
    _ timeout: Duration = .seconds(20),
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    do {
        return try await withTimeout(timeout, operation)
    } catch is TimeoutError {
        throw WaitTimeout(what)
    }
}

/// Creates an empty database on the test server for `body` and drops it afterwards, so that a test whose processes
/// sweep the whole database (the reconciler, for one) never touches the runs of tests running beside it.
public func withFreshDatabase<T: Sendable>(_ body: @escaping @Sendable (_ name: String) async throws -> T) async throws -> T {
    let name = "netra_t_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
    try await withPostgres { admin in try await admin.query("CREATE DATABASE \(unescaped: name)") }
    do {
        let result = try await body(name)
        try await withPostgres { admin in try await admin.query("DROP DATABASE \(unescaped: name) WITH (FORCE)") }
        return result
    } catch {
        try? await withPostgres { admin in try await admin.query("DROP DATABASE \(unescaped: name) WITH (FORCE)") }
        throw error
    }
}

/// Runs `body` with a running `PostgresClient` and shuts it down afterwards.
@discardableResult
public func withPostgres<T: Sendable>(
    _ configuration: PostgresClient.Configuration = TestEnvironment.postgres,
    _ body: @escaping @Sendable (PostgresClient) async throws -> T
) async throws -> T {
    let client = PostgresClient(configuration: configuration, backgroundLogger: TestEnvironment.logger("postgres"))
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
