import Logging
import PostgresNIO
import Shared
import Testing

@Suite("Configuration from flags and NETRA_ environment variables")
struct SettingsTests {
    @Test func flagsWinOverEnvironmentAndDefaultsApply() throws {
        let settings = Settings(
            flags: ["redis.url": "redis://flag-host:7000/2"],
            environment: ["NETRA_REDIS_URL": "redis://env-host:6000", "NETRA_DATABASE_URL": "postgres://u:p%40ss@db:5499/app"]
        )
        let config = try ServiceConfiguration(settings: settings)
        #expect(config.redis == RedisEndpoint(host: "flag-host", port: 7000, password: nil, database: 2))
        #expect(config.postgres.host == "db" && config.postgres.port == 5499)
        #expect(config.postgres.username == "u" && config.postgres.password == "p@ss" && config.postgres.database == "app")
        #expect(config.keys.runStream == "netra:runs")
        #expect(config.logLevel == .info)
    }

    @Test func aDatabaseURLThatEncryptsWithoutCheckingIsWarnedAbout() throws {
        func warnings(_ url: String) throws -> [String] {
            try ServiceConfiguration(settings: Settings(environment: ["NETRA_DATABASE_URL": url])).startupWarnings
        }
        let unchecked = try warnings("postgres://u:p@db/app?sslmode=require")
        #expect(unchecked.count == 1 && unchecked[0].contains("sslmode=require") && unchecked[0].contains("verify-full"))
        #expect(try warnings("postgres://u:p@db/app?sslmode=prefer").count == 1)
        #expect(try warnings("postgres://u:p@db/app?sslmode=verify-full").isEmpty)
        #expect(try warnings("postgres://u:p@db/app").isEmpty, "plaintext is a choice, not a half-measure")
    }

    @Test func malformedValuesNameTheirKey() {
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration(settings: Settings(environment: ["NETRA_REDIS_URL": "http://nope"]))
        }
        do {
            _ = try Settings(environment: ["NETRA_WORKER_CONCURRENCY": "lots"]).int(.workerConcurrency, default: 1, in: 1...10)
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            #expect(error.description == "configuration error: NETRA_WORKER_CONCURRENCY (--worker-concurrency): expected an integer from 1 to 10, got 'lots'")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: ConfigurationError.self) { try Settings(environment: [:]).required(.jwtSecret) }
        #expect(throws: ConfigurationError.self) { try Settings(environment: ["NETRA_JWT_SECRET": "short"]).secret(.jwtSecret, minimumLength: 32) }
        #expect(throws: ConfigurationError.self) { try Settings(environment: ["NETRA_LOG_LEVEL": "loud"]).logLevel() }
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration(settings: Settings(environment: ["NETRA_DATABASE_URL": "postgres://db/app"]))
        }
    }

    @Test func settingKeysMapToEnvironmentAndFlags() {
        #expect(SettingKey.heartbeatInterval.environmentName == "NETRA_HEARTBEAT_INTERVAL")
        #expect(SettingKey.heartbeatInterval.flagName == "--heartbeat-interval")
    }
}
