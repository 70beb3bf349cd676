import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

/// TLS on every connection: `rediss://` (commands, pub/sub, client certificates), PostgreSQL with libpq's `sslmode`,
/// and the gateway's HTTPS and WSS (`TLSTests+EndToEnd.swift`). Against the TLS port of the suite's Redis and its
/// PostgreSQL with `ssl=on`, both started by `scripts/test` with the certificates of `scripts/lib/tls.sh`.
@Suite("TLS: Redis, PostgreSQL and the gateway")
struct TLSTests {
    let logger = TestEnvironment.logger("tls")
    static var ca: String { TestEnvironment.tlsFile("ca.crt") }
    static var clientIdentity: RedisTLS {
        RedisTLS(caFile: ca, certificateFile: TestEnvironment.tlsFile("client.crt"), keyFile: TestEnvironment.tlsFile("client.key"))
    }

    // MARK: Redis

    @Test func redisCommandsAndPubSubRunOverTLS() async throws {
        let endpoint = TestEnvironment.redisTLS()
        let client = RedisClient(endpoint: endpoint, logger: logger)
        let plain = RedisClient(endpoint: TestEnvironment.redis, logger: logger)
        defer { client.close(); plain.close() }
        let key = "tls-test-\(UUID().uuidString)"
        try await client.send(["SET", RedisArgument(key), "over tls", "EX", "60"])
        #expect(try await client.send(["GET", RedisArgument(key)]).string == "over tls")
        #expect(try await plain.send(["GET", RedisArgument(key)]).string == "over tls", "one server, two ports")

        let subscriber = RedisSubscriber(endpoint: endpoint, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await subscriber.run() }
            try await waitUntil("the subscriber connected over TLS") {
                (try? await subscriber.withSubscription(to: "tls-probe") { _ in true }) ?? false
            }
            let channel = "tls-events-\(UUID().uuidString)"
            try await subscriber.withSubscription(to: channel) { stream in
                try await client.publish(ByteBuffer(string: "hello over tls"), on: channel)
                var iterator = stream.makeAsyncIterator()
                #expect(await iterator.next() == .message(ByteBuffer(string: "hello over tls")))
            }
            group.cancelAll()
        }
    }

    @Test func redisRefusesAServerItsCADidNotSign() async throws {
        let endpoint = TestEnvironment.redisTLS(RedisTLS(caFile: TestEnvironment.tlsFile("wrong-ca.crt")))
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(to: endpoint) }
        #expect(error.kind == .unavailable)
        #expect(
            error.message.hasPrefix("TLS handshake with redis \(endpoint.host):\(endpoint.port) failed: certificate verify failed"),
            "\(error.message)"
        )
    }

    @Test func redisRefusesACertificateForAnotherName() async throws {
        // A server whose certificate (from the right CA) names only wrong.example, reached as 127.0.0.1. (Not shown with
        // the suite's own server: NIOSSL accepts a certificate whose IP entry matches the connected address whatever
        // name is expected, and that certificate lists 127.0.0.1.)
        let server = try RedisServerProcess(tls: .init(certificate: "wrong-host", authClients: "no"))
        try await server.start()
        defer { server.kill() }
        let endpoint = try #require(server.tlsEndpoint())
        let mismatch = try await #require(throws: RedisError.self) { try await RedisConnection.connect(to: endpoint) }
        #expect(mismatch.message.contains("certificate name mismatch: the server's certificate is not valid for 127.0.0.1"), "\(mismatch.message)")
    }

    @Test func redissNeverFallsBackToPlaintext() async throws {
        var endpoint = TestEnvironment.redis  // the plaintext port
        endpoint.tls = RedisTLS(caFile: Self.ca)
        let error = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(to: endpoint, connectTimeout: .seconds(1))
        }
        #expect(error.message.hasPrefix("TLS handshake with redis \(endpoint.host):\(endpoint.port) failed"), "\(error.message)")
        var options = RedisClient.Options()
        options.connectTimeout = .seconds(1)
        let client = RedisClient(endpoint: endpoint, options: options, logger: logger)
        defer { client.close() }
        await #expect(throws: RedisError.self) { try await client.send(["PING"]) }

        // TLS settings beside a plaintext URL stop the process instead of being ignored.
        let settings = Settings(environment: ["NETRA_REDIS_URL": TestEnvironment.redisURL, "NETRA_REDIS_TLS_CA_FILE": Self.ca])
        let configError = try #require(throws: ConfigurationError.self) { try ServiceConfiguration(settings: settings) }
        #expect(configError.key == .redisTLSCAFile)
    }

    @Test func redisClientCertificateIsAcceptedWhenTheServerRequiresOne() async throws {
        let server = try RedisServerProcess(tls: .init(authClients: "yes"))
        try await server.start()
        defer { server.kill() }
        let client = RedisClient(endpoint: try #require(server.tlsEndpoint(Self.clientIdentity)), logger: logger)
        defer { client.close() }
        #expect(try await client.send(["PING"]) == .simpleString("PONG"))

        // Without a certificate the server hangs up after the handshake; connect says so rather than returning.
        let anonymous = try #require(server.tlsEndpoint())
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(to: anonymous) }
        #expect(error.message.contains("TLS") && error.message.contains("\(anonymous.port)"), "\(error.message)")
    }

    @Test func redisTLSSettingsAreReadAndChecked() throws {
        let environment = [
            "NETRA_REDIS_URL": TestEnvironment.redisTLSURL,
            "NETRA_REDIS_TLS_CA_FILE": Self.ca,
            "NETRA_REDIS_TLS_CERT_FILE": TestEnvironment.tlsFile("client.crt"),
            "NETRA_REDIS_TLS_KEY_FILE": TestEnvironment.tlsFile("client.key"),
            "NETRA_REDIS_TLS_SERVER_NAME": "localhost",
        ]
        let config = try ServiceConfiguration(settings: Settings(environment: environment))
        #expect(config.redis.tls == RedisTLS(caFile: Self.ca, certificateFile: environment["NETRA_REDIS_TLS_CERT_FILE"],
                                            keyFile: environment["NETRA_REDIS_TLS_KEY_FILE"], serverName: "localhost"))
        #expect(RedisEndpoint(url: "rediss://example.com")?.tls == RedisTLS())

        func refusal(_ changes: [String: String]) throws -> ConfigurationError {
            let settings = Settings(environment: environment.merging(changes) { $1 })
            return try #require(throws: ConfigurationError.self) { try ServiceConfiguration(settings: settings) }
        }
        #expect(try refusal(["NETRA_REDIS_TLS_CA_FILE": "/nonexistent/ca.crt"]).reason.contains("no such file"))
        #expect(try refusal(["NETRA_REDIS_TLS_KEY_FILE": ""]).key == .redisTLSKeyFile)
        #expect(try refusal(["NETRA_REDIS_TLS_KEY_FILE": TestEnvironment.tlsFile("server.key")]).key == .redisTLSKeyFile)
        #expect(try refusal(["NETRA_REDIS_TLS_SERVER_NAME": "127.0.0.1"]).key == .redisTLSServerName)
    }

    // MARK: PostgreSQL

    @Test func postgresVerifyFullConnectsOverTLSWithTheClientCertificate() async throws {
        let query = "sslmode=verify-full&sslrootcert=\(Self.ca)"
            + "&sslcert=\(TestEnvironment.tlsFile("client.crt"))&sslkey=\(TestEnvironment.tlsFile("client.key"))"
        var configuration = try PostgresClient.Configuration(url: TestEnvironment.databaseURL(tlsQuery: query))
        configuration.options.maximumConnections = 2
        let rows = try await withPostgres(configuration) { client in
            var rows: [(Bool, String?)] = []
            let query = try await client.query("SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            for try await row in query.decode((Bool, String?).self) { rows.append(row) }
            return rows.map { "\($0.0) \($0.1 ?? "-")" }
        }
        #expect(rows == ["true /CN=netra-client"])

        // `require` encrypts without checking the certificate.
        let encrypted = try await withPostgres(try PostgresClient.Configuration(url: TestEnvironment.databaseURL(tlsQuery: "sslmode=require"))) { client in
            var flags: [Bool] = []
            for try await ssl in try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").decode(Bool.self) { flags.append(ssl) }
            return flags
        }
        #expect(encrypted == [true])
    }

    @Test func postgresRefusesAWrongCAAndVerifyFullAWrongName() async throws {
        let wrongCA = try PostgresTLS(query: ["sslmode": "verify-full", "sslrootcert": TestEnvironment.tlsFile("wrong-ca.crt")])
        let untrusted = try await #require(throws: (any Error).self) { try await connectOnce(wrongCA) }
        #expect(String(reflecting: untrusted).contains("CERTIFICATE_VERIFY_FAILED"), "\(String(reflecting: untrusted))")

        // A server whose certificate (from the right CA) names only wrong.example, reached as 127.0.0.1: verify-full
        // refuses it. (NIOSSL accepts a certificate whose IP entry matches the connected address whatever name is
        // expected, so the test PostgreSQL's own certificate, which lists 127.0.0.1, cannot show this.)
        let full = try PostgresTLS(query: ["sslmode": "verify-full", "sslrootcert": Self.ca])
        let impostor = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let identity = try TLSFiles.identity(
                        certificateFile: TestEnvironment.tlsFile("wrong-host.crt"), keyFile: TestEnvironment.tlsFile("wrong-host.key")
                    )
                    let context = try NIOSSLContext(
                        configuration: .makeServerConfiguration(certificateChain: identity.chain, privateKey: identity.key)
                    )
                    try channel.pipeline.syncOperations.addHandler(AcceptTLSHandler(context: context))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { impostor.close(promise: nil) }
        let misnamed = try await #require(throws: (any Error).self) { try await connectOnce(full, port: impostor.localAddress?.port) }
        #expect(String(reflecting: misnamed).contains("failedToValidateHostname"), "\(String(reflecting: misnamed))")
        // verify-ca checks the chain only; verify-full with the right certificate connects.
        try await connectOnce(try PostgresTLS(query: ["sslmode": "verify-ca", "sslrootcert": Self.ca]), serverName: "wrong.example")
        try await connectOnce(full)
    }

    @Test func postgresTLSModesNeverFallBackToPlaintext() async throws {
        // A server without TLS answers the SSLRequest with "N", as PostgreSQL with ssl=off does.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DeclineTLSHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        for mode in ["require", "verify-ca", "verify-full"] {
            let tls = try PostgresTLS(query: ["sslmode": mode, "sslrootcert": Self.ca])
            let error = try await #require(throws: PSQLError.self) { try await connectOnce(tls, port: port) }
            #expect(error.code == .sslUnsupported, "\(mode): \(String(reflecting: error))")
        }
    }

    @Test func postgresURLParametersFollowLibpq() throws {
        func verification(_ query: [String: String]) throws -> CertificateVerification? {
            try PostgresTLS(query: query).makeTLSConfiguration()?.certificateVerification
        }
        #expect(try verification([:]) == nil)
        #expect(try verification(["sslmode": "require"]) == CertificateVerification.none)
        #expect(try verification(["sslmode": "require", "sslrootcert": Self.ca]) == .noHostnameVerification)
        #expect(try verification(["sslmode": "verify-ca", "sslrootcert": Self.ca]) == .noHostnameVerification)
        #expect(try verification(["sslmode": "verify-full"]) == .fullVerification)
        for refused in [["sslmode": "allow"], ["sslrootcert": Self.ca], ["sslmode": "require", "sslcert": Self.ca],
                        ["sslmode": "require", "sslrootcert": "system"], ["sslmode": "verify-full", "sslrootcert": "/nonexistent"]] {
            #expect(throws: ConfigurationError.self, "\(refused)") { try verification(refused) }
        }
    }

    // MARK: Helpers

    /// Opens one connection to the test PostgreSQL (or `port` on 127.0.0.1) with `tls`, runs `SELECT 1`, closes it.
    private func connectOnce(_ tls: PostgresTLS, port: Int? = nil, serverName: String? = nil) async throws {
        let base = TestEnvironment.postgres
        var configuration = PostgresConnection.Configuration(
            host: base.host ?? "127.0.0.1", port: port ?? base.port ?? 5432, username: base.username, password: base.password,
            database: base.database, tls: try tls.connectionTLS()
        )
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.tlsServerName = serverName
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            _ = try await connection.query("SELECT 1", logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}

/// Answers a PostgreSQL client's SSLRequest with "N" (no TLS here), as a server with `ssl=off` does.
final class DeclineTLSHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "N")), promise: nil)
    }
}

/// Answers a PostgreSQL client's SSLRequest with "S" and then speaks TLS with the certificate it was given (and
/// nothing else: a client that accepts the certificate waits for a server that never answers).
final class AcceptTLSHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let sslContext: NIOSSLContext

    init(context: NIOSSLContext) { self.sslContext = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "S")), promise: nil)
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext), position: .first)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }
}
