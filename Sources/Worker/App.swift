import ArgumentParser
import Logging
import ServiceLifecycle
import Shared

/// `netra-worker`: executes queued runs.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "netra-worker", abstract: "Executes Netra agent runs from the Redis stream.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("worker-concurrency"), help: "Runs executed at once (NETRA_WORKER_CONCURRENCY), default 16.")
    var concurrency: String?

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between lease renewals (NETRA_HEARTBEAT_INTERVAL), default 5.")
    var heartbeatInterval: String?

    @Option(name: .customLong("lease-duration"), help: "Seconds a claim stays valid without renewal (NETRA_LEASE_DURATION), default 15.")
    var leaseDuration: String?

    func run() async throws {
        var flags = common.values
        flags[SettingKey.workerConcurrency.name] = concurrency
        flags[SettingKey.heartbeatInterval.name] = heartbeatInterval
        flags[SettingKey.leaseDuration.name] = leaseDuration
        let config = try ProcessBootstrap.load { try WorkerConfiguration(settings: Settings(flags: flags)) }
        let logger = ProcessBootstrap.logger(label: "netra.worker", level: config.service.logLevel)
        let services = buildWorkerServices(config, logger: logger)
        try await ProcessBootstrap.serviceGroup(services, logger: logger).run()
    }
}
