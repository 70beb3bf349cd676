import Foundation
import NIOCore
import NIOPosix
import Shared

/// A private `redis-server` on a free port, for tests that stop and restart the server or need TLS settings of their own.
public final class RedisServerProcess: @unchecked Sendable {
    // `@unchecked Sendable`: `process` is only touched by the owning test, one call at a time.

    /// A TLS port beside the plain one, with a certificate of `TestEnvironment.tlsDirectory`.
    public struct TLSOptions: Sendable {
        /// The certificate's base name: `server` (127.0.0.1 and localhost) or `wrong-host` (wrong.example only).
        public var certificate: String
        /// `--tls-auth-clients`: `yes` (a client certificate signed by the test CA is required), `optional` or `no`.
        public var authClients: String

        public init(certificate: String = "server", authClients: String = "yes") {
            self.certificate = certificate
            self.authClients = authClients
        }
    }

    public let port: Int
    /// The TLS port, when the server has one.
    public let tlsPort: Int?
    private let tls: TLSOptions?
    private let directory: URL
    private var process: Process?

    /// Picks free ports; call `start()` to launch.
    public init(tls: TLSOptions? = nil) throws {
        self.port = try Self.freePort()
        self.tlsPort = try tls.map { _ in try Self.freePort() }
        self.tls = tls
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("netra-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        process?.terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    public var endpoint: RedisEndpoint { RedisEndpoint(host: "127.0.0.1", port: port) }

    /// The TLS port with `tls` as the client's settings (default: trust the test CA, no client certificate).
    public func tlsEndpoint(_ tls: RedisTLS = RedisTLS(caFile: TestEnvironment.tlsFile("ca.crt"))) -> RedisEndpoint? {
        tlsPort.map { RedisEndpoint(host: "127.0.0.1", port: $0, tls: tls) }
    }

    /// Starts the server and waits until it answers PING.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.redisServerPath)
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path]
        if let tls, let tlsPort {
            process.arguments? += [
                "--tls-port", "\(tlsPort)",
                "--tls-cert-file", TestEnvironment.tlsFile("\(tls.certificate).crt"),
                "--tls-key-file", TestEnvironment.tlsFile("\(tls.certificate).key"),
                "--tls-ca-cert-file", TestEnvironment.tlsFile("ca.crt"),
                "--tls-auth-clients", tls.authClients,
            ]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let endpoint = self.endpoint
        try await waitUntil("redis-server on port \(port)") {
            let connection = try await RedisConnection.connect(to: endpoint, connectTimeout: .milliseconds(200))
            defer { connection.close() }
            return try await connection.send(["PING"]) == .simpleString("PONG")
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    public func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// A port nothing listens on right now (bound once by the kernel's choice, then released).
    public static func freePort() throws -> Int {
        let socket = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? socket.close().wait() }
        return socket.localAddress?.port ?? 0
    }
}
