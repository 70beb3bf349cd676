import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Start-up helpers for the three executables' `main`.
public enum ProcessBootstrap {
    /// Loads configuration; a `ConfigurationError` becomes one line on standard error and exit code 1.
    public static func load<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// A service group that drains on SIGTERM or SIGINT within `gracePeriod` (below Kubernetes' 30 s default).
    public static func serviceGroup(
        _ services: [ServiceGroupConfiguration.ServiceConfiguration],
        gracePeriod: Duration = .seconds(25),
        logger: Logger
    ) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        return ServiceGroup(configuration: configuration)
    }
}

/// Metadata keys used in log lines, in one place.
public enum LogKey {
    public static let runID = "run_id"
    public static let tenantID = "tenant_id"
    public static let stage = "stage"
    public static let attempt = "attempt"
    public static let error = "error"
    public static let worker = "worker"
}

extension Logger {
    /// A copy of the logger with one more metadata value.
    public func with(_ key: String, _ value: Logger.MetadataValue) -> Logger {
        var logger = self
        logger[metadataKey: key] = value
        return logger
    }
}
