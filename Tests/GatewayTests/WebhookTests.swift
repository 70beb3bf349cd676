import Crypto
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Shared
import SharedTestSupport
import Synchronization
import Testing

@testable import Gateway
@testable import Scheduler

/// Completion webhooks: signed, retried with backoff, and only to allowed addresses.
@Suite("Completion webhooks")
struct WebhookTests {
    static let secret = "webhook-test-secret-0123456789"

    /// What the receiver got: each request's body and signature header.
    final class Received: Sendable {
        let requests = Mutex<[(body: String, signature: String?, runID: String?)]>([])
    }

    /// A local receiver answering 500 to its first `failures` requests and 204 afterwards; runs `body` with its URL.
    func withReceiver(failures: Int, _ body: (_ url: String, _ received: Received) async throws -> Void) async throws {
        let received = Received()
        let router = Router()
        router.post("/hooks/netra") { request, _ -> Response in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let count = received.requests.withLock { requests in
                requests.append((text, request.headers[.init("X-Netra-Signature")!], request.headers[.init("X-Netra-Run-ID")!]))
                return requests.count
            }
            return Response(status: count <= failures ? .internalServerError : .noContent)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) }
        )
        let server = ServiceGroup(configuration: .init(services: [app], logger: TestEnvironment.logger("receiver")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portContinuation.finish() }
                try await server.run()
            }
            let port = await ports.first { _ in true } ?? 0
            let outcome: Result<Void, any Error>
            do {
                outcome = .success(try await body("http://127.0.0.1:\(port)/hooks/netra", received))
            } catch {
                outcome = .failure(error)
            }
            await server.triggerGracefulShutdown()
            try await group.waitForAll()
            try outcome.get()
        }
    }

    @Test func aFinishedRunIsPostedSignedAndRetriedUntilTheReceiverTakesIt() async throws {
        try await withReceiver(failures: 1) { url, received in
            var options = TestStack.Options()
            options.workers = 1
            options.webhooks = WebhookPolicy(allowedHosts: ["127.0.0.1"])
            options.webhookSecret = Self.secret
            try await TestStack.run(options) { stack in
                let token = try await stack.tenantToken()
                let run = try await stack.submit(#"{"message":"notify me","pipeline":"bench","parameters":{"stages":1},"webhook_url":"\#(url)"}"#, token: token)
                #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")
                // The first attempt gets a 500; the retry (2 s later) is taken.
                try await waitUntil("the webhook to be delivered", timeout: .seconds(20)) {
                    try await stack.scalar(Bool.self, "SELECT webhook_delivered_at IS NOT NULL FROM runs WHERE id = \(UUID(uuidString: run)!)") == true
                }
                let requests = received.requests.withLock { $0 }
                #expect(requests.count == 2)
                for request in requests {
                    #expect(request.runID == run)
                    let payload = try #require(JSONValue(text: request.body))
                    #expect(payload["run_id"]?.stringValue == run)
                    #expect(payload["status"]?.stringValue == "succeeded")
                    // t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, checked as a receiver would.
                    let parts = Dictionary(uniqueKeysWithValues: (request.signature ?? "").split(separator: ",").compactMap { part -> (String, String)? in
                        let pair = part.split(separator: "=", maxSplits: 1)
                        return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
                    })
                    let timestamp = try #require(parts["t"])
                    let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(request.body)".utf8), using: SymmetricKey(data: Data(Self.secret.utf8)))
                    #expect(parts["v1"] == mac.map { String(format: "%02x", $0) }.joined())
                    #expect(abs((Double(timestamp) ?? 0) - Date().timeIntervalSince1970) < 60)
                }
            }
        }
    }

    @Test func webhookURLsAreCheckedAndInternalAddressesRefused() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            for url in [
                "ftp://example.com/hook", "not a url", "http://169.254.169.254/latest/meta-data", "http://127.0.0.1:9/hook", "http://[::1]/hook",
                "http://10.0.0.7/hook", "http://user:pass@example.com/hook", "http://[fe80::1]/hook",
            ] {
                let response = try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"x","webhook_url":"\#(url)"}"#)
                #expect(response.status.code == 422, "\(url) answered \(response.status)")
            }
            #expect(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"x","webhook_url":"https://hooks.example.com/netra"}"#).status == .accepted)
        }
        // A name that resolves to an internal address is refused at delivery.
        #expect(try await WebhookDelivery.resolve("localhost", port: 80).allSatisfy(\.isInternal))
        #expect(IPAddressClass(literal: "::ffff:169.254.169.254") == .linkLocal)
        #expect(IPAddressClass(literal: "fd00:ec2::254")?.isInternal == true)
        #expect(IPAddressClass(literal: "93.184.215.14") == .publicAddress)
        let allowList = WebhookPolicy(allowedHosts: ["*.example.com"])
        #expect((try? allowList.validate("https://a.example.com/x")) != nil)
        #expect((try? allowList.validate("https://example.org/x")) == nil)
    }
}
