import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

extension TLSTests {
    /// The gateway (HTTPS and WSS), a worker and the scheduler with Redis and PostgreSQL over TLS only: a run is
    /// submitted over a verified WSS connection, executes, streams its events back and is read over HTTPS.
    @Test func aRunGoesEndToEndWithEveryConnectionOverTLS() async throws {
        var options = TestStack.Options()
        options.workers = 1
        options.redis = TestEnvironment.redisTLS(Self.clientIdentity)  // the suite's TLS port verifies a shown certificate
        options.postgresTLS = try PostgresTLS(query: ["sslmode": "verify-full", "sslrootcert": Self.ca]).clientTLS()
        let serverFiles = ["NETRA_TLS_CERT_FILE": TestEnvironment.tlsFile("server.crt"), "NETRA_TLS_KEY_FILE": TestEnvironment.tlsFile("server.key")]
        options.gatewayTLS = try #require(try Settings(environment: serverFiles).serverTLS())
        var client = TLSConfiguration.makeClientConfiguration()
        client.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(Self.ca))
        let verifying = client

        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()  // over HTTPS (the stack's client does not verify)
            let runID = try await Self.runOverWSS(port: stack.port, token: token, tls: verifying, logger: stack.logger)

            // HTTPS with the certificate verified against the test CA, by IP address.
            let https = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: verifying))
            do {
                var request = HTTPClientRequest(url: "https://127.0.0.1:\(stack.port)/api/agent/status/\(runID)")
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                let response = try await https.execute(request, timeout: .seconds(10))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(response.status == .ok, "\(text)")
                #expect(JSONValue(text: text)?["status"]?.stringValue == "succeeded", "\(text)")
                // The port speaks only TLS: plain HTTP gets no answer.
                await #expect(throws: (any Error).self) {
                    try await https.execute(HTTPClientRequest(url: "http://127.0.0.1:\(stack.port)/health"), timeout: .seconds(5))
                }
            } catch {
                try? await https.shutdown()
                throw error
            }
            try await https.shutdown()

            // Every connection the stack holds to its database is encrypted.
            let connections = try await stack.db.query(
                """
                SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                WHERE a.datname = current_database() AND a.backend_type = 'client backend'
                """
            )
            for try await (encrypted, total) in connections.decode((Int, Int).self) {
                #expect(total > 0 && encrypted == total, "\(encrypted) of \(total) connections use TLS")
            }
        }
    }

    /// Starts a bench run over WSS (trusting only `tls`'s roots), waits for `agent_completed`, returns the run's id.
    private static func runOverWSS(port: Int, token: String, tls: TLSConfiguration, logger: Logger) async throws -> String {
        let seen = Mutex<(runID: String?, status: String?)>((nil, nil))
        try await withDeadline("a run over WSS", .seconds(30)) {
            // `localhost`, not 127.0.0.1: WSClient sends the host as SNI, which may not be an IP address.
            try await WebSocketClient.connect(url: "wss://localhost:\(port)/ws?token=\(token)", tlsConfiguration: tls, logger: logger) {
                inbound, outbound, _ in
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                let start = #"{"action":"start_agent","data":{"message":"over tls","pipeline":"bench","parameters":{"stages":3,"stage_ms":5}}}"#
                try await outbound.write(.text(start))
                while let message = try await iterator.next() {
                    guard case .text(let text) = message, let value = JSONValue(text: text) else { continue }
                    if let run = value["metadata"]?["run_id"]?.stringValue { seen.withLock { $0.runID = run } }
                    if value["type"]?.stringValue == "agent_completed" {
                        seen.withLock { $0.status = value["data"]?["status"]?.stringValue }
                        break
                    }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
        let (runID, status) = seen.withLock { $0 }
        #expect(status == "succeeded")
        return try #require(runID)
    }
}
