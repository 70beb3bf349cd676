import Foundation
import Logging
import PostgresNIO

/// What every process needs: where Redis and PostgreSQL are, the Redis key prefix and the log level.
///
/// - Configuration keys: `redis.url` (default `redis://127.0.0.1:6379`; `rediss://` for TLS, configured by
///   `redis.tls.ca.file`, `redis.tls.cert.file`, `redis.tls.key.file` and `redis.tls.server.name`), `redis.prefix`
///   (default `netra`), `database.url` (default `postgres://netra:netra@127.0.0.1:5432/netra`, with libpq's `sslmode`,
///   `sslrootcert`, `sslcert` and `sslkey` parameters: see `PostgresTLS`), `database.pool.size`
///   (default 20), `log.level` (default `info`), `log.format` (`text` or `json`, default `text`),
///   `tenant.max.in.flight` (runs a tenant may have admitted at once unless the admin API sets its own limit,
///   default 100).
public struct ServiceConfiguration: Sendable {
    public var redis: RedisEndpoint
    public var keys: RedisKeys
    public var postgres: PostgresClient.Configuration
    public var logLevel: Logger.Level
    public var logFormat = LogFormat.text
    public var tenantMaxInFlight = Self.defaultTenantMaxInFlight
    /// Which completion-webhook URLs runs may carry (`webhook.allowed.hosts`).
    public var webhooks = WebhookPolicy()
    /// Settings that work but deserve an operator's attention, logged once at start-up (`LogBootstrap`).
    public var startupWarnings: [String] = []
    public static let defaultTenantMaxInFlight = 100

    public init(redis: RedisEndpoint, keys: RedisKeys, postgres: PostgresClient.Configuration, logLevel: Logger.Level) {
        self.redis = redis
        self.keys = keys
        self.postgres = postgres
        self.logLevel = logLevel
    }

    /// Reads and validates the shared settings.
    public init(settings: Settings) throws {
        let redisURL = settings.string(.redisURL) ?? "redis://127.0.0.1:6379"
        guard var redis = RedisEndpoint(url: redisURL) else {
            throw ConfigurationError(.redisURL, "expected redis://[:password@]host[:port][/db] (rediss:// for TLS)")
        }
        redis.tls = try settings.redisTLS(for: redis)
        let prefix = settings.string(.redisPrefix) ?? "netra"
        guard prefix.allSatisfy({ $0.isLetter || $0.isNumber || "-_:.".contains($0) }) else {
            throw ConfigurationError(.redisPrefix, "may contain only letters, digits and - _ : .")
        }
        let databaseURL = settings.string(.databaseURL) ?? "postgres://netra:netra@127.0.0.1:5432/netra"
        var postgres = try PostgresClient.Configuration(url: databaseURL)
        postgres.options.maximumConnections = try settings.int(.databasePoolSize, default: 20, in: 1...500)
        self.init(redis: redis, keys: RedisKeys(prefix: prefix), postgres: postgres, logLevel: try settings.logLevel())
        logFormat = try settings.logFormat()
        tenantMaxInFlight = try settings.int(.tenantMaxInFlight, default: Self.defaultTenantMaxInFlight, in: 1...1_000_000)
        let hosts = (settings.string(.webhookAllowedHosts) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        webhooks = WebhookPolicy(allowedHosts: hosts.filter { !$0.isEmpty })
        if let query = ServiceURL(databaseURL)?.query, let tls = try? PostgresTLS(query: query),
            [.require, .prefer].contains(tls.mode), !tls.verifiesServer
        {
            startupWarnings.append(
                "NETRA_DATABASE_URL: sslmode=\(tls.mode.rawValue) encrypts but does not check the server's certificate "
                    + "(libpq's meaning); use sslmode=verify-full with sslrootcert against a man in the middle"
            )
        }
    }
}

extension Admission {
    /// The admission of the deployment `config` describes, through `redis`.
    public init(redis: RedisClient, config: ServiceConfiguration) {
        self.init(redis: redis, keys: config.keys, defaultLimit: config.tenantMaxInFlight)
    }
}

extension PostgresClient.Configuration {
    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=…&sslcert=…&sslkey=…]`
    /// (libpq's TLS parameters, see `PostgresTLS`).
    public init(url: String) throws {
        guard let parsed = ServiceURL(url), parsed.scheme == "postgres" || parsed.scheme == "postgresql",
            let user = parsed.user
        else {
            throw ConfigurationError(.databaseURL, "expected postgres://user[:password]@host[:port]/database")
        }
        let database = String(parsed.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw ConfigurationError(.databaseURL, "names no database") }
        let tls = try PostgresTLS(query: parsed.query).clientTLS()
        self.init(host: parsed.host, port: parsed.port ?? 5432, username: user, password: parsed.password, database: database, tls: tls)
    }
}

extension ServiceConfiguration {
    /// `postgres` as the processes' pools connect: the batched claim, commit and insert are prepared statements (no
    /// parsing per batch), planned for each execution's own arrays. A generic plan, chosen while `runs` is small,
    /// scans the table until the next autoanalyze: claims took four times as long in a benchmark that starts from an
    /// empty table (`pg_stat_statements`).
    public var postgresPool: PostgresClient.Configuration {
        var configuration = postgres
        configuration.options.additionalStartupParameters.append(("plan_cache_mode", "force_custom_plan"))
        return configuration
    }
}
