import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

@Suite("Gateway shutdown")
struct ShutdownTests {
    @Test func sigtermClosesWebSocketsWithGoingAway() async throws {
        let logger = TestEnvironment.logger("shutdown")
        let config = TestStack.gatewayConfiguration(TestEnvironment.service())
        let (port, portContinuation) = AsyncStream<Int>.makeStream()
        let (app, sessions) = try await buildGateway(config, logger: logger) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: app), .init(service: sessions)], logger: logger))
        let tokens = await TokenService(secret: TestStack.jwtSecret, lifetime: .seconds(60))

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            let stopped = StopFlag()
            tasks.addTask {
                try await group.run()
                stopped.value.store(true, ordering: .releasing)
            }
            var ports = port.makeAsyncIterator()
            let listening = try #require(await ports.next())
            // A user of a real tenant (the gateway has applied the migrations by now): tokens of unknown tenants are refused.
            let email = "shutdown-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let (tenant, userID) = try await withPostgres { client in
                try await IdentityStore(client: client).createTenant(name: "t", userName: "u", email: email, passwordHash: "x", logger: logger)
            }
            let user = IdentityStore.User(id: userID, tenantID: tenant, email: email, name: "u", role: "admin", passwordHash: "")
            let (token, _) = try await tokens.issue(for: user)
            let closeFrame = try await withDeadline("the server's close frame") {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(listening)/ws?token=\(token)", logger: logger) { inbound, _, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await iterator.next()  // connection_established: the session is registered
                    try await waitUntil("the session to register") { sessions.count == 1 }
                    await group.triggerGracefulShutdown()
                    while try await iterator.next() != nil {}
                }
            }
            #expect(closeFrame?.closeCode == .goingAway)
            try await waitUntil("the gateway to stop") { stopped.value.load(ordering: .acquiring) }
        }
    }
}

final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
