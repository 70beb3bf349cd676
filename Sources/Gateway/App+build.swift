import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Shared

/// Everything the routes need, built once per process.
struct GatewayDependencies: Sendable {
    let config: GatewayConfiguration
    let postgres: PostgresClient
    let redis: RedisClient
    let subscriber: RedisSubscriber
    let tokens: TokenService
    let monitor: DependencyMonitor
    let sessions: WebSocketSessions
    let submissions: SubmissionBatching
    /// Denylist and rate limits (one instance: its limiter remembers the loaded script).
    let access: AccessGuard
    let policies: TenantPolicies
    /// Discovery documents and key sets of single sign-on issuers, cached for the process.
    let oidc = OIDCClient()

    var runs: RunStore { RunStore(client: postgres) }
    var threads: ThreadStore { ThreadStore(client: postgres) }
    var identities: IdentityStore { IdentityStore(client: postgres) }
    var submitter: RunSubmitter {
        RunSubmitter(
            runs: runs, threads: threads, redis: redis, admission: admission, batching: submissions, access: access, webhooks: config.service.webhooks
        )
    }
    var apiKeys: APIKeys { APIKeys(identities: identities) }
    var relay: EventRelay { EventRelay(subscriber: subscriber, runs: runs, keys: config.service.keys) }
    var control: RunControl { RunControl(runs: runs, redis: redis, admission: admission) }
    var admission: Admission { Admission(redis: redis, config: config.service) }

    init(config: GatewayConfiguration, logger: Logger) async {
        self.config = config
        self.postgres = PostgresClient(configuration: config.service.postgresPool, backgroundLogger: logger)
        self.redis = RedisClient(endpoint: config.service.redis, logger: logger)
        self.subscriber = RedisSubscriber(endpoint: config.service.redis, logger: logger)
        self.tokens = await TokenService(secret: config.jwtSecret, lifetime: config.tokenLifetime)
        self.monitor = DependencyMonitor(postgres: postgres, redis: redis)
        self.sessions = WebSocketSessions(heartbeatInterval: config.heartbeatInterval)
        self.policies = TenantPolicies(identities: IdentityStore(client: postgres))
        self.access = AccessGuard(redis: redis, keys: config.service.keys, limits: config.rateLimits, policies: policies)
        self.submissions = SubmissionBatching(
            runs: RunStore(client: postgres),
            queue: RunQueue(store: RunStore(client: postgres), admission: Admission(redis: redis, config: config.service)),
            logger: logger
        )
    }
}

/// Builds the gateway: PostgreSQL pool and Redis subscriber as services, migrations and the consumer group before the
/// server starts, and one router serving REST and the WebSocket upgrade.
func buildApplication(_ config: GatewayConfiguration, logger: Logger, migrate: Bool = true) async throws -> some ApplicationProtocol {
    try await buildGateway(config, logger: logger, migrate: migrate).app
}

/// The gateway application and the registry of its WebSockets; run the registry after the application in one
/// service group (see `GatewayCommand`) so that shutdown closes WebSockets with 1001 before the server stops.
func buildGateway(
    _ config: GatewayConfiguration,
    logger: Logger,
    migrate: Bool = true,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> (app: some ApplicationProtocol, sessions: WebSocketSessions) {
    let dependencies = await GatewayDependencies(config: config, logger: logger)
    let router = buildRouter(dependencies)
    let server = try buildServer(config, router: router)
    var app = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "netra-gateway"),
        onServerRunning: onServerRunning,
        logger: logger
    )
    app.addServices(dependencies.postgres, dependencies.subscriber, dependencies.monitor)
    app.beforeServerStarts {
        if migrate { try await Migrations.apply(on: dependencies.postgres, logger: logger) }
        // So that autoscalers reading the group's lag never see NOGROUP.
        do {
            for stream in config.service.keys.workStreams {
                try await dependencies.redis.createGroup(config.service.keys.workerGroup, on: stream)
            }
        } catch {
            logger.warning("Could not create the consumer group yet; workers will", metadata: [LogKey.error: "\(error)"])
        }
    }
    return (app, dependencies.sessions)
}

/// HTTP/1.1 with the WebSocket upgrade; inside TLS (HTTPS and WSS on the same port) when the gateway has a certificate.
func buildServer(_ config: GatewayConfiguration, router: Router<GatewayContext>) throws -> HTTPServerBuilder {
    // No RFC 6455 pings: sessions send heartbeats, and the kernel closes connections to vanished peers (see
    // `DeadPeerDetection`), which costs no task per connection.
    let http: HTTPServerBuilder = .http1WebSocketUpgrade(
        webSocketRouter: router,
        configuration: .init(
            http1: .init(additionalChannelHandlers: [DeadPeerDetection()]),
            ws: .init(maxFrameSize: WebSocketSession.maxMessageSize, autoPing: .disabled)
        )
    )
    guard let tls = config.tls else { return http }
    return try .tls(http, tlsConfiguration: tls)
}

/// The routes: health, auth, admin, threads, runs and the WebSocket.
func buildRouter(_ dependencies: GatewayDependencies) -> Router<GatewayContext> {
    let router = Router(context: GatewayContext.self)
    // Outermost, so that error responses carry the CORS headers too (a page can then read them).
    if !dependencies.config.corsOrigins.isEmpty {
        router.add(middleware: CORSAllowListMiddleware(origins: dependencies.config.corsOrigins))
    }
    // Outside the error middleware, so that every answer is counted with the status it went out with.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: RequestLogMiddleware(.debug))  // not LogRequestsMiddleware: it logs `/ws?token=…` whole
    HealthController(postgres: dependencies.postgres, redis: dependencies.redis).addRoutes(to: router)
    Observability.addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    UIController().addRoutes(to: router)

    let api = router.group("api").add(middleware: AvailabilityMiddleware(monitor: dependencies.monitor))
    let auth = AuthController(
        identities: dependencies.identities, tokens: dependencies.tokens, access: dependencies.access,
        trustedProxies: dependencies.config.trustedProxies
    )
    auth.addPublicRoutes(to: api.group("auth"))
    let sso = OIDCController(
        identities: dependencies.identities, tokens: dependencies.tokens, client: dependencies.oidc, redis: dependencies.redis,
        keys: dependencies.config.service.keys,
        publicURL: dependencies.config.publicURL
            ?? "\(dependencies.config.tls == nil ? "http" : "https")://\(dependencies.config.host):\(dependencies.config.port)",
        bcryptCost: dependencies.config.bcryptCost, access: dependencies.access, trustedProxies: dependencies.config.trustedProxies
    )
    sso.addRoutes(to: api.group("auth/oidc"))
    let admin = api.group("admin").add(middleware: AdminMiddleware(adminToken: dependencies.config.adminToken))
    sso.addAdminRoutes(to: admin)
    AdminController(identities: dependencies.identities, bcryptCost: dependencies.config.bcryptCost, policies: dependencies.policies,
                    limits: dependencies.config.rateLimits, admission: dependencies.admission, runs: dependencies.runs,
                    control: dependencies.control)
        .addRoutes(to: admin)

    let protected = api.group().add(middleware: AuthMiddleware(tokens: dependencies.tokens, apiKeys: dependencies.apiKeys, access: dependencies.access))
    auth.addProtectedRoutes(to: protected.group("auth"))
    ThreadsController(threads: dependencies.threads).addRoutes(to: protected.group("threads"))
    SchedulesController(schedules: ScheduleStore(client: dependencies.postgres)).addRoutes(to: protected.group("schedules"))
    let agent = protected.group("agent")
    RunsController(submitter: dependencies.submitter, runs: dependencies.runs, control: dependencies.control).addRoutes(to: agent)
    EventsController(runs: dependencies.runs, relay: dependencies.relay, heartbeatInterval: dependencies.config.heartbeatInterval)
        .addRoutes(to: agent)
    WorkloadController(workloads: WorkloadStore(client: dependencies.postgres), catalog: .shipped)
        .addRoutes(to: protected.group("workloads"))
    SupplyController(catalog: .shipped).addRoutes(to: protected.group("supply"))
    UsersController(identities: dependencies.identities, bcryptCost: dependencies.config.bcryptCost)
        .addRoutes(users: protected.group("users"), keys: protected.group("keys"))
    GenerationController(submitter: dependencies.submitter, runs: dependencies.runs).addRoutes(to: protected.group("generation"))

    let webSockets = WebSocketSession.Common(
        submitter: dependencies.submitter, relay: dependencies.relay, runs: dependencies.runs, control: dependencies.control,
        sessions: dependencies.sessions, messageLimit: dependencies.config.webSocketMessages,
        outboxLimit: dependencies.config.webSocketOutboxLimit
    )
    router.group("ws").add(middleware: AuthMiddleware(tokens: dependencies.tokens, apiKeys: dependencies.apiKeys, access: dependencies.access, allowQueryToken: true)).ws("") { inbound, outbound, context in
        guard let identity = context.requestContext.identity else { return }
        try await WebSocketSession(common: webSockets, identity: identity, logger: context.logger).run(inbound: inbound, outbound: outbound)
    }
    return router
}
