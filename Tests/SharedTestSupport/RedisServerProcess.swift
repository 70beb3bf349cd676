import Foundation
import NIOCore
import NIOPosix
import Shared

/// A private `redis-server` on a free port, for tests that stop and restart the server.
public final class RedisServerProcess: @unchecked Sendable {
    // `@unchecked Sendable`: `process` is only touched by the owning test, one call at a time.
    public let port: Int
    private let directory: URL
    private var process: Process?

    /// Picks a free port; call `start()` to launch.
    public init() throws {
        self.port = try Self.freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("netra-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        process?.terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    public var endpoint: RedisEndpoint { RedisEndpoint(host: "127.0.0.1", port: port) }

    /// Starts the server and waits until it answers PING.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.redisServerPath)
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path]
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
