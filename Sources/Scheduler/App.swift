import ArgumentParser
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import Shared

/// `netra-scheduler`: leader election now; delayed and cron runs, the reaper and the reconciler build on it.
@main
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "netra-scheduler", abstract: "Keeps Netra's queue healthy.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("http-host"), help: "Address of the health endpoint (NETRA_HTTP_HOST), default 127.0.0.1.")
    var host: String?

    @Option(name: .customLong("http-port"), help: "Port of the health endpoint (NETRA_HTTP_PORT), default 8082.")
    var port: String?

    @Option(name: .customLong("leader-ttl"), help: "Seconds the leader lock lives without renewal (NETRA_LEADER_TTL), default 6.")
    var leaderTTL: String?

    func run() async throws {
        var flags = common.values
        flags[SettingKey.httpHost.name] = host
        flags[SettingKey.httpPort.name] = port
        flags[SettingKey.leaderTTL.name] = leaderTTL
        let config = try ProcessBootstrap.load { try SchedulerConfiguration(settings: Settings(flags: flags)) }
        LogBootstrap.bootstrap(for: config.service)
        Observability.bootstrap()
        let logger = Logger(label: "netra.scheduler")
        try await buildScheduler(config, logger: logger).runService()
    }
}

/// The scheduler process: PostgreSQL pool (migrated at start), leader election, the leader's duties (reaper and
/// reconciler) and `/health`.
func buildScheduler(_ config: SchedulerConfiguration, logger: Logger) -> some ApplicationProtocol {
    let postgres = PostgresClient(configuration: config.service.postgresPool, backgroundLogger: logger)
    let redis = RedisClient(endpoint: config.service.redis, logger: logger)
    let election = LeaderElection(
        redis: redis, key: config.service.keys.schedulerLeader, instanceID: config.instanceID, ttl: config.leaderTTL, logger: logger
    )
    let store = RunStore(client: postgres)
    let keys = config.service.keys
    let admission = Admission(redis: redis, config: config.service)
    let duties = SchedulerDuties(
        election: election,
        reaper: Reaper(
            redis: redis, store: store, admission: admission, consumer: "reaper", minIdle: config.leaseDuration, maxDeliveries: config.maxDeliveries
        ),
        reconciler: Reconciler(store: store, identities: IdentityStore(client: postgres), admission: admission, age: config.reconcileAfter),
        delayed: DelayedQueue(redis: redis, keys: keys),
        admission: admission,
        queueMetrics: QueueMetrics(admission: admission),
        schedules: ScheduleFiring(store: ScheduleStore(client: postgres), admission: admission),
        webhooks: WebhookDelivery(store: WebhookStore(client: postgres), policy: config.service.webhooks, secret: config.webhookSecret),
        trimmer: StreamTrimmer(redis: redis, keys: keys),
        interval: config.sweepInterval,
        reconcileInterval: config.reconcileInterval,
        logger: logger
    )
    let router = Router()
    router.get("/health") { _, _ in
        HealthStatus(status: "ok", leader: election.isLeader, instance: config.instanceID)
    }
    Observability.addRoutes(to: router)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "netra-scheduler"),
        logger: logger
    )
    app.addServices(postgres, election, duties)
    app.beforeServerStarts { try await Migrations.apply(on: postgres, logger: logger) }
    return app
}

/// The scheduler's `/health` body.
struct HealthStatus: ResponseCodable {
    let status: String
    let leader: Bool
    let instance: String
}
