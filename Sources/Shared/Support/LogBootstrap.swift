import Logging

/// How log lines look: setting `log.format` (`NETRA_LOG_FORMAT`, `--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's `StreamLogHandler` lines: `2026-11-29T18:00:00+0000 info netra.gateway: run_id=… [Gateway] msg`.
    case text
    /// One JSON object per line (`JSONLogHandler`).
    case json
}

/// The one place that sets up logging for the three executables.
public enum LogBootstrap {
    /// Bootstraps swift-log once per process: every logger writes `format` lines at `level` and above to standard
    /// error, with secrets redacted (`RedactingLogHandler`).
    ///
    /// - Important: Only an executable's `main` calls this; `LoggingSystem.bootstrap` traps when called twice, so tests
    ///   build handlers with `makeHandler(label:format:level:sink:metadataProvider:)` instead.
    public static func bootstrap(format: LogFormat, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        LoggingSystem.bootstrap(
            { label, provider in makeHandler(label: label, format: format, level: level, metadataProvider: provider) },
            metadataProvider: metadataProvider
        )
    }

    /// Bootstraps logging for a process of `service` and logs its start-up warnings once.
    public static func bootstrap(for service: ServiceConfiguration) {
        bootstrap(format: service.logFormat, level: service.logLevel)
        let logger = Logger(label: "netra.configuration")
        for warning in service.startupWarnings { logger.warning("\(warning)") }
        logger.debug("Allocator", metadata: ["allocator": "\(Allocator.description)"])
    }

    /// A redacting handler in `format` that writes to `sink`.
    public static func makeHandler(
        label: String,
        format: LogFormat,
        level: Logger.Level,
        sink: LogSink = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> any LogHandler {
        switch format {
        case .text:
            var handler = RedactingLogHandler(
                wrapping: StreamLogHandler(label: label, stream: LogSinkStream(sink: sink), metadataProvider: nil),
                metadataProvider: metadataProvider
            )
            handler.logLevel = level
            return handler
        case .json:
            var handler = RedactingLogHandler(
                wrapping: JSONLogHandler(label: label, sink: sink, metadataProvider: nil),
                metadataProvider: metadataProvider
            )
            handler.logLevel = level
            return handler
        }
    }
}
