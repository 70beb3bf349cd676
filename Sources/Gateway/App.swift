import ArgumentParser
import Hummingbird
import Logging
import ServiceLifecycle
import Shared

/// `netra-gateway`: the REST and WebSocket front door.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "netra-gateway", abstract: "Serves Netra's REST API and WebSocket.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("http-host"), help: "Address to listen on (NETRA_HTTP_HOST), default 127.0.0.1.")
    var host: String?

    @Option(name: .customLong("http-port"), help: "Port to listen on (NETRA_HTTP_PORT), default 8080.")
    var port: String?

    @Option(name: .customLong("jwt-secret"), help: "Secret that signs access tokens (NETRA_JWT_SECRET), at least 32 characters.")
    var jwtSecret: String?

    @Option(name: .customLong("admin-token"), help: "Token for /api/admin (NETRA_ADMIN_TOKEN), at least 16 characters.")
    var adminToken: String?

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between WebSocket heartbeats (NETRA_HEARTBEAT_INTERVAL), default 15.")
    var heartbeatInterval: String?

    func run() async throws {
        var flags = common.values
        flags[SettingKey.httpHost.name] = host
        flags[SettingKey.httpPort.name] = port
        flags[SettingKey.jwtSecret.name] = jwtSecret
        flags[SettingKey.adminToken.name] = adminToken
        flags[SettingKey.heartbeatInterval.name] = heartbeatInterval
        let config = try ProcessBootstrap.load { try GatewayConfiguration(settings: Settings(flags: flags)) }
        LogBootstrap.bootstrap(for: config.service)
        Observability.bootstrap()
        let logger = Logger(label: "netra.gateway")
        let (app, sessions) = try await buildGateway(config, logger: logger)
        // The WebSocket registry is listed last, so it hears SIGTERM first and closes sockets with 1001 (going
        // away) before the HTTP server drains.
        try await ProcessBootstrap.serviceGroup([.init(service: app), .init(service: sessions)], logger: logger).run()
    }
}
