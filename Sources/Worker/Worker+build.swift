import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import Shared

/// The worker's services, in start order: the PostgreSQL pool and the control-channel listener first, the consumer
/// last (so it stops first).
func buildWorkerServices(_ config: WorkerConfiguration, logger: Logger) -> [ServiceGroupConfiguration.ServiceConfiguration] {
    let postgres = PostgresClient(configuration: config.service.postgresPool, backgroundLogger: logger)
    let redis = RedisClient(endpoint: config.service.redis, logger: logger)
    let subscriber = RedisSubscriber(endpoint: config.service.redis, logger: logger)
    let registry = CancellationRegistry()
    let store = RunStore(client: postgres)
    let admission = Admission(redis: redis, config: config.service)
    if let llm = config.llm { logger.info("LLM enabled", metadata: ["llm.model": "\(llm.model)", "llm.timeout": "\(llm.timeout)"]) }
    let runner = PipelineRunner(
        store: store,
        redis: redis,
        admission: admission,
        stages: StageCatalog(
            recorder: ExecutionRecorder(store: store, worker: config.consumerName, logger: logger),
            workloads: WorkloadStore(client: postgres), llm: config.llm.map { ChatCompletionsClient(configuration: $0) }, logger: logger
        ),
        registry: registry,
        delayed: DelayedQueue(redis: redis, keys: config.service.keys),
        batching: RunBatching(
            store: store, redis: redis, keys: config.service.keys, worker: config.consumerName,
            lease: config.leaseDuration, logger: logger
        ),
        retryBaseDelay: config.retryBaseDelay
    )
    let consumer = RunConsumer(config: config, postgres: postgres, runner: runner, logger: logger)
    var monitoring: [ServiceGroupConfiguration.ServiceConfiguration] = []
    if let http = config.http {
        // `/health` answers while the process runs; `/metrics` serves this worker's metrics.
        let router = Router()
        router.get("/health") { _, _ in WorkerHealth(status: "ok", worker: config.consumerName, concurrency: config.concurrency) }
        Observability.addRoutes(to: router)
        let app = Application(
            router: router, configuration: .init(address: .hostname(http.host, port: http.port), serverName: "netra-worker"), logger: logger
        )
        monitoring.append(.init(service: app))
    }
    return monitoring + [
        .init(service: postgres),
        .init(service: subscriber),
        .init(service: ControlListener(subscriber: subscriber, channel: config.service.keys.control, registry: registry, store: store, logger: logger)),
        .init(
            service: LeaseKeeper(
                store: store, redis: redis, registry: registry, group: config.service.keys.workerGroup, consumer: config.consumerName,
                interval: config.heartbeatInterval, lease: config.leaseDuration, logger: logger
            )
        ),
        .init(service: WorkerRegistration(admission: admission, worker: config.consumerName, concurrency: config.concurrency, logger: logger)),
        .init(service: consumer, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
    ]
}

/// The worker's `/health` body.
struct WorkerHealth: ResponseCodable {
    let status: String
    let worker: String
    let concurrency: Int
}
