import ArgumentParser
import Configuration
import Foundation
import Logging

/// A configuration key: `redis.url` is read from `--redis-url` or `NETRA_REDIS_URL`, in that order.
public struct SettingKey: Sendable, Hashable {
    /// Dotted name, for example `redis.url`.
    public let name: String

    public init(_ name: String) { self.name = name }

    /// The environment variable: `NETRA_` plus the name in upper snake case.
    public var environmentName: String {
        "NETRA_" + name.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The command-line flag: the name in kebab case.
    public var flagName: String { "--" + name.replacingOccurrences(of: ".", with: "-") }

    public static let redisURL = SettingKey("redis.url")
    public static let redisPrefix = SettingKey("redis.prefix")
    /// TLS for a `rediss://` URL (an error with `redis://`): the CAs to trust (PEM; default the system's), a client
    /// certificate and its key (PEM, both or neither), and the name the server's certificate must carry (default the
    /// URL's host).
    public static let redisTLSCAFile = SettingKey("redis.tls.ca.file")
    public static let redisTLSCertFile = SettingKey("redis.tls.cert.file")
    public static let redisTLSKeyFile = SettingKey("redis.tls.key.file")
    public static let redisTLSServerName = SettingKey("redis.tls.server.name")
    /// The gateway's own HTTPS and WSS: its certificate chain and private key (PEM, both or neither).
    public static let tlsCertFile = SettingKey("tls.cert.file")
    public static let tlsKeyFile = SettingKey("tls.key.file")
    public static let databaseURL = SettingKey("database.url")
    public static let databasePoolSize = SettingKey("database.pool.size")
    public static let tenantMaxInFlight = SettingKey("tenant.max.in.flight")
    /// Completion webhooks: hosts a run's `webhook_url` may name (comma-separated; empty: any public host), and the
    /// scheduler's HMAC signing secret.
    public static let webhookAllowedHosts = SettingKey("webhook.allowed.hosts")
    public static let webhookSecret = SettingKey("webhook.secret")
    public static let httpHost = SettingKey("http.host")
    public static let httpPort = SettingKey("http.port")
    public static let jwtSecret = SettingKey("jwt.secret")
    public static let jwtTTL = SettingKey("jwt.ttl")
    public static let adminToken = SettingKey("admin.token")
    public static let workerConcurrency = SettingKey("worker.concurrency")
    /// A worker's NIO event-loop threads (its connections' I/O; its runs execute on Swift's own thread pool).
    public static let workerEventLoops = SettingKey("worker.event.loops")
    public static let heartbeatInterval = SettingKey("heartbeat.interval")
    public static let leaseDuration = SettingKey("lease.duration")
    public static let leaderTTL = SettingKey("leader.ttl")
    public static let maxDeliveries = SettingKey("max.deliveries")
    public static let retryDelay = SettingKey("retry.delay")
    public static let reconcileAfter = SettingKey("reconcile.after")
    public static let logLevel = SettingKey("log.level")
    /// `text` (default) or `json`: one JSON object per log line.
    public static let logFormat = SettingKey("log.format")
    /// Per-tenant limits (per second; the burst is twice that) on run submissions and on API requests.
    public static let rateLimitRuns = SettingKey("rate.limit.runs")
    public static let rateLimitRequests = SettingKey("rate.limit.requests")
    /// Per WebSocket connection: inbound messages per second, and the bucket's burst (default twice the rate).
    public static let wsMessagesPerSecond = SettingKey("ws.messages.per.second")
    public static let wsMessagesBurst = SettingKey("ws.messages.burst")
    /// Proxies whose `X-Forwarded-For` is believed for per-address limits (comma-separated addresses or CIDR networks).
    public static let trustedProxies = SettingKey("trusted.proxies")
    /// The gateway's external base URL (scheme, host, port), e.g. `https://netra.example.com`: single sign-on's callback
    /// is this plus `/api/auth/oidc/callback`. Default: `http://<http host>:<http port>`.
    public static let publicURL = SettingKey("public.url")
    /// Browser origins allowed cross-origin (comma-separated); unset: no CORS headers at all.
    public static let corsOrigins = SettingKey("cors.origins")
    /// The optional LLM (worker only): an OpenAI-compatible base URL such as `http://127.0.0.1:8000/v1`.
    public static let llmBaseURL = SettingKey("llm.base.url")
    /// Sent as a bearer token; a secret, never logged.
    public static let llmAPIKey = SettingKey("llm.api.key")
    public static let llmModel = SettingKey("llm.model")
    /// Seconds one LLM completion may take, retries included.
    public static let llmTimeout = SettingKey("llm.timeout")
}

/// A configuration value that is missing or malformed; the process prints it as one line and exits.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let key: SettingKey
    public let reason: String

    public init(_ key: SettingKey, _ reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "configuration error: \(key.environmentName) (\(key.flagName)): \(reason)" }
}

/// Reads settings from command-line flags first, then `NETRA_*` environment variables, through swift-configuration.
public struct Settings: Sendable {
    private let reader: ConfigReader

    /// - Parameters:
    ///   - flags: Values given on the command line, by setting name (`redis.url`).
    ///   - environment: The environment to read `NETRA_*` variables from.
    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        let flagValues = Dictionary(uniqueKeysWithValues: flags.map { name, value in
            (AbsoluteConfigKey(["netra"] + name.split(separator: ".").map(String.init)), ConfigValue(.string(value), isSecret: true))
        })
        self.reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: flagValues),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .all),
        ]).scoped(to: "netra")
    }

    /// The raw text of a setting, or `nil` when it is not set (empty counts as not set).
    public func string(_ key: SettingKey) -> String? {
        let value = reader.string(forKey: ConfigKey(key.name), isSecret: true)
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// A required setting.
    public func required(_ key: SettingKey) throws -> String {
        guard let value = string(key) else { throw ConfigurationError(key, "is required but not set") }
        return value
    }

    /// A secret of at least `minimumLength` characters.
    public func secret(_ key: SettingKey, minimumLength: Int) throws -> String {
        let value = try required(key)
        guard value.count >= minimumLength else {
            throw ConfigurationError(key, "must be at least \(minimumLength) characters long")
        }
        return value
    }

    /// An integer within `range`, or `defaultValue` when not set.
    public func int(_ key: SettingKey, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(key) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(key, "expected an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// A duration in seconds (fractions allowed) within `range`, or `defaultValue` when not set.
    public func seconds(_ key: SettingKey, default defaultValue: Duration, in range: ClosedRange<Double>) throws -> Duration {
        guard let text = string(key) else { return defaultValue }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(key, "expected seconds from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return .milliseconds(Int64(value * 1000))
    }

    /// A log level (`trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`).
    public func logLevel(default defaultValue: Logger.Level = .info) throws -> Logger.Level {
        guard let text = string(.logLevel) else { return defaultValue }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ConfigurationError(.logLevel, "expected one of trace, debug, info, notice, warning, error, critical; got '\(text)'")
        }
        return level
    }

    /// The log line format (`text` or `json`).
    public func logFormat(default defaultValue: LogFormat = .text) throws -> LogFormat {
        guard let text = string(.logFormat) else { return defaultValue }
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw ConfigurationError(.logFormat, "expected text or json; got '\(text)'")
        }
        return format
    }
}

/// The flags every Netra process accepts; each mirrors a `NETRA_*` environment variable.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("redis-url"), help: "Redis URL (NETRA_REDIS_URL), default redis://127.0.0.1:6379.")
    public var redisURL: String?

    @Option(name: .customLong("redis-prefix"), help: "Prefix of every Redis key (NETRA_REDIS_PREFIX), default netra.")
    public var redisPrefix: String?

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (NETRA_DATABASE_URL).")
    public var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "Log level (NETRA_LOG_LEVEL), default info.")
    public var logLevel: String?

    @Option(name: .customLong("log-format"), help: "Log format, text or json (NETRA_LOG_FORMAT), default text.")
    public var logFormat: String?

    public init() {}

    /// The flags that were given, by setting name.
    public var values: [String: String] {
        var values: [String: String] = [:]
        values[SettingKey.redisURL.name] = redisURL
        values[SettingKey.redisPrefix.name] = redisPrefix
        values[SettingKey.databaseURL.name] = databaseURL
        values[SettingKey.logLevel.name] = logLevel
        values[SettingKey.logFormat.name] = logFormat
        return values
    }
}
