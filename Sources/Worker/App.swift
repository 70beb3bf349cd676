import ArgumentParser
import Logging
import NIOCore
import ServiceLifecycle
import Shared

/// `netra-worker`: executes queued runs.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "netra-worker", abstract: "Executes Netra agent runs from the Redis stream.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("worker-concurrency"), help: "Runs executed at once (NETRA_WORKER_CONCURRENCY), default 16.")
    var concurrency: String?

    @Option(name: .customLong("worker-event-loops"), help: "NIO event-loop threads (NETRA_WORKER_EVENT_LOOPS), default 1.")
    var eventLoops: String?

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between lease renewals (NETRA_HEARTBEAT_INTERVAL), default 3.")
    var heartbeatInterval: String?

    @Option(name: .customLong("lease-duration"), help: "Seconds a claim stays valid without renewal (NETRA_LEASE_DURATION), default 10.")
    var leaseDuration: String?

    @Option(name: .customLong("http-host"), help: "Address of /health and /metrics (NETRA_HTTP_HOST), default 127.0.0.1.")
    var httpHost: String?

    @Option(name: .customLong("http-port"), help: "Port of /health and /metrics (NETRA_HTTP_PORT); unset: not served.")
    var httpPort: String?

    @Option(name: .customLong("llm-base-url"), help: "OpenAI-compatible base URL of the optional LLM (NETRA_LLM_BASE_URL).")
    var llmBaseURL: String?

    @Option(name: .customLong("llm-api-key"), help: "Bearer key of the LLM (NETRA_LLM_API_KEY; prefer the variable, flags show in ps).")
    var llmAPIKey: String?

    @Option(name: .customLong("llm-model"), help: "Model name sent to the LLM (NETRA_LLM_MODEL); with the base URL it enables the LLM.")
    var llmModel: String?

    @Option(name: .customLong("llm-timeout"), help: "Seconds one LLM completion may take, retries included (NETRA_LLM_TIMEOUT), default 10.")
    var llmTimeout: String?

    func run() async throws {
        var flags = common.values
        flags[SettingKey.workerConcurrency.name] = concurrency
        flags[SettingKey.workerEventLoops.name] = eventLoops
        flags[SettingKey.heartbeatInterval.name] = heartbeatInterval
        flags[SettingKey.leaseDuration.name] = leaseDuration
        flags[SettingKey.llmBaseURL.name] = llmBaseURL
        flags[SettingKey.llmAPIKey.name] = llmAPIKey
        flags[SettingKey.llmModel.name] = llmModel
        flags[SettingKey.llmTimeout.name] = llmTimeout
        flags[SettingKey.httpHost.name] = httpHost
        flags[SettingKey.httpPort.name] = httpPort
        let config = try ProcessBootstrap.load { try WorkerConfiguration(settings: Settings(flags: flags)) }
        // Before anything uses the singleton group (the PostgreSQL and Redis clients, the HTTP server).
        NIOSingletons.groupLoopCountSuggestion = config.eventLoops
        LogBootstrap.bootstrap(for: config.service)
        Observability.bootstrap()
        let logger = Logger(label: "netra.worker")
        let services = buildWorkerServices(config, logger: logger)
        try await ProcessBootstrap.serviceGroup(services, logger: logger).run()
    }
}
