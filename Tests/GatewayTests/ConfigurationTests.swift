import Shared
import Testing

@testable import Gateway
@testable import Scheduler
@testable import Worker

@Suite("Process configuration fails at start-up with one line naming the key")
struct ConfigurationTests {
    let secrets = ["NETRA_JWT_SECRET": String(repeating: "s", count: 32), "NETRA_ADMIN_TOKEN": String(repeating: "a", count: 16)]

    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as ConfigurationError {
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func gatewayNeedsItsSecrets() throws {
        #expect(message { _ = try GatewayConfiguration(settings: Settings(environment: [:])) }
            == "configuration error: NETRA_JWT_SECRET (--jwt-secret): is required but not set")
        #expect(message { _ = try GatewayConfiguration(settings: Settings(environment: ["NETRA_JWT_SECRET": String(repeating: "s", count: 32)])) }
            == "configuration error: NETRA_ADMIN_TOKEN (--admin-token): is required but not set")
        #expect(message { _ = try GatewayConfiguration(settings: Settings(flags: ["http.port": "80000"], environment: secrets)) }?
            .hasPrefix("configuration error: NETRA_HTTP_PORT (--http-port)") == true)
        let config = try GatewayConfiguration(settings: Settings(flags: ["http.port": "9000"], environment: secrets))
        #expect(config.port == 9000 && config.host == "127.0.0.1" && config.heartbeatInterval == .seconds(15))
    }

    @Test func workerAndSchedulerValidateTheirKeys() throws {
        #expect(message { _ = try WorkerConfiguration(settings: Settings(environment: ["NETRA_WORKER_CONCURRENCY": "0"])) }?
            .hasPrefix("configuration error: NETRA_WORKER_CONCURRENCY (--worker-concurrency)") == true)
        #expect(message { _ = try WorkerConfiguration(settings: Settings(environment: ["NETRA_HEARTBEAT_INTERVAL": "10", "NETRA_LEASE_DURATION": "15"])) }?
            .hasPrefix("configuration error: NETRA_LEASE_DURATION (--lease-duration)") == true)
        let worker = try WorkerConfiguration(settings: Settings(flags: ["worker.concurrency": "4"], environment: [:]))
        #expect(worker.concurrency == 4 && worker.heartbeatInterval == .seconds(3) && worker.leaseDuration == .seconds(10))
        #expect(worker.eventLoops == 1)
        #expect(try WorkerConfiguration(settings: Settings(environment: ["NETRA_WORKER_EVENT_LOOPS": "2"])).eventLoops == 2)
        #expect(message { _ = try WorkerConfiguration(settings: Settings(environment: ["NETRA_WORKER_EVENT_LOOPS": "0"])) }?
            .hasPrefix("configuration error: NETRA_WORKER_EVENT_LOOPS (--worker-event-loops)") == true)
        #expect(message { _ = try SchedulerConfiguration(settings: Settings(environment: ["NETRA_LEADER_TTL": "soon"])) }?
            .hasPrefix("configuration error: NETRA_LEADER_TTL (--leader-ttl)") == true)
    }
}
