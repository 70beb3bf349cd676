import Foundation
import NIOSSL
import Shared

/// The gateway's settings.
///
/// - Configuration keys: the shared ones (`ServiceConfiguration`), plus `http.host` (default `127.0.0.1`),
///   `http.port` (default 8080), `jwt.secret` (required, at least 32 characters), `jwt.ttl` (seconds, default 3600),
///   `admin.token` (required, at least 16 characters) and `heartbeat.interval` (seconds between WebSocket
///   heartbeats, default 15), `ws.messages.per.second` (default 20) and `ws.messages.burst` (default twice the rate)
///   per WebSocket connection, `cors.origins` (comma-separated origins; unset: no CORS headers), `public.url`
///   (the external base URL single sign-on redirects back to; default `http://<host>:<port>`), and `tls.cert.file`
///   with `tls.key.file` (PEM; both set: the gateway serves HTTPS and WSS itself, neither: plain HTTP).
struct GatewayConfiguration: Sendable {
    var service: ServiceConfiguration
    var host: String
    var port: Int
    var jwtSecret: String
    var tokenLifetime: Duration
    var adminToken: String
    var heartbeatInterval: Duration
    /// Largest request body accepted; larger ones get 413.
    var maxBodySize = 1 << 20
    /// bcrypt cost for new passwords.
    var bcryptCost: UInt8 = 10
    /// Per-tenant request limits.
    var rateLimits = RateLimits()
    /// Per-connection limit on the messages a WebSocket client sends.
    var webSocketMessages = WebSocketMessageLimiter.Limit.standard
    /// Messages waiting for a WebSocket client before it counts as too slow and is closed with 1013.
    var webSocketOutboxLimit = WebSocketSession.maxPendingOutputs
    /// Browser origins allowed to call the API cross-origin; empty: no CORS headers at all (same origin only).
    var corsOrigins: [String] = []
    /// The external base URL (no trailing slash); the single sign-on callback hangs off it.
    var publicURL: String?
    /// Proxies whose `X-Forwarded-For` names the client (login limits per address); empty: the peer is the client.
    var trustedProxies = TrustedProxies()
    /// The server certificate and key when the gateway terminates TLS itself; `nil`: plain HTTP (behind a proxy that does).
    var tls: TLSConfiguration?

    init(
        service: ServiceConfiguration, host: String, port: Int, jwtSecret: String, tokenLifetime: Duration,
        adminToken: String, heartbeatInterval: Duration
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.jwtSecret = jwtSecret
        self.tokenLifetime = tokenLifetime
        self.adminToken = adminToken
        self.heartbeatInterval = heartbeatInterval
    }

    init(settings: Settings) throws {
        self.init(
            service: try ServiceConfiguration(settings: settings),
            host: settings.string(.httpHost) ?? "127.0.0.1",
            port: try settings.int(.httpPort, default: 8080, in: 0...65535),
            jwtSecret: try settings.secret(.jwtSecret, minimumLength: 32),
            tokenLifetime: try settings.seconds(.jwtTTL, default: .seconds(3600), in: 60...2_592_000),
            adminToken: try settings.secret(.adminToken, minimumLength: 16),
            heartbeatInterval: try settings.seconds(.heartbeatInterval, default: .seconds(15), in: 0.05...3600)
        )
        let runs = try settings.int(.rateLimitRuns, default: 1_000, in: 1...1_000_000)
        let requests = try settings.int(.rateLimitRequests, default: 2_000, in: 1...1_000_000)
        rateLimits = RateLimits(runsPerSecond: Double(runs), runBurst: runs * 2, requestsPerSecond: Double(requests), requestBurst: requests * 2)
        let messages = try settings.int(.wsMessagesPerSecond, default: 20, in: 1...100_000)
        let burst = try settings.int(.wsMessagesBurst, default: messages * 2, in: 1...200_000)
        webSocketMessages = WebSocketMessageLimiter.Limit(perSecond: Double(messages), burst: burst)
        corsOrigins = try CORSOrigins.parse(settings.string(.corsOrigins))
        if let url = settings.string(.publicURL) {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil, parsed.query == nil else {
                throw ConfigurationError(.publicURL, "must be an http or https base URL such as https://netra.example.com")
            }
            publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        tls = try settings.serverTLS()
        let (proxies, invalid) = TrustedProxies.parse(settings.string(.trustedProxies))
        if let invalid { throw ConfigurationError(.trustedProxies, "'\(invalid)' is not an IP address or a CIDR network") }
        trustedProxies = proxies
    }
}

/// Per-tenant token buckets (in Redis, shared by gateway replicas) and the failed-login limits.
struct RateLimits: Sendable, Equatable {
    /// Run submissions (`POST /api/agent/runs`, `start_agent`, generation jobs).
    var runs: RateLimiter.Limit
    /// Every authenticated API request.
    var requests: RateLimiter.Limit
    /// Failed logins allowed per email, and per client address, within `loginWindow`.
    var loginFailuresPerEmail = 5
    var loginFailuresPerAddress = 20
    var loginWindow: Duration = .seconds(15 * 60)

    init(runsPerSecond: Double = 1_000, runBurst: Int = 2_000, requestsPerSecond: Double = 2_000, requestBurst: Int = 4_000) {
        runs = RateLimiter.Limit(perSecond: runsPerSecond, burst: runBurst)
        requests = RateLimiter.Limit(perSecond: requestsPerSecond, burst: requestBurst)
    }
}
