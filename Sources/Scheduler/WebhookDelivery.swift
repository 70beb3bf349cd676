import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

/// Sends completion webhooks (the leader's duty): each ended run with a `webhook_url` gets one POST of its summary,
/// signed `X-Netra-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with `webhook.secret`, retried
/// with exponential backoff (2 s, 4 s, … up to an hour) on a network error or a non-2xx answer, at most
/// `WebhookStore.maxAttempts` times. Delivery is at least once: a receiver de-duplicates by `run_id`.
struct WebhookDelivery: Sendable {
    let store: WebhookStore
    let policy: WebhookPolicy
    let secret: String?
    var httpClient: HTTPClient = .shared
    var timeout: Duration = .seconds(10)

    /// The signature header's value for `body` at `timestamp`.
    static func signature(secret: String, timestamp: Int, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    @discardableResult
    func sweep(now: Date = Date(), logger: Logger) async throws -> Int {
        guard let secret else { return 0 }
        var delivered = 0
        for webhook in try await store.due(now: now, logger: logger) {
            let logger = logger.with(LogKey.runID, "\(webhook.runID)").with(LogKey.tenantID, "\(webhook.tenantID)")
            do {
                try await send(webhook, secret: secret, logger: logger)
                try await store.delivered(webhook.runID, logger: logger)
                delivered += 1
            } catch {
                let attempt = webhook.attempts + 1
                let retryAt = attempt < WebhookStore.maxAttempts ? now.addingTimeInterval(min(pow(2, Double(attempt)), 3_600)) : nil
                logger.warning("Webhook delivery failed", metadata: [LogKey.error: "\(error)", "attempt": "\(attempt)"])
                try await store.failed(webhook.runID, error: "\(error)", retryAt: retryAt, logger: logger)
            }
        }
        return delivered
    }

    struct DeliveryError: Error, CustomStringConvertible {
        let description: String
    }

    private func send(_ webhook: PendingWebhook, secret: String, logger: Logger) async throws {
        let url = try policy.validate(webhook.url)
        // The host may resolve somewhere the URL's text did not say: check the addresses unless the host is listed.
        if let host = url.host, !policy.isListed(host) {
            for address in try await Self.resolve(host, port: url.port ?? (url.scheme == "https" ? 443 : 80)) where address.isInternal {
                throw DeliveryError(description: "\(host) resolves to a \(address) address")
            }
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "netra-webhooks/1")
        request.headers.add(name: "X-Netra-Signature", value: Self.signature(secret: secret, timestamp: Int(Date().timeIntervalSince1970), body: webhook.payload))
        request.headers.add(name: "X-Netra-Run-ID", value: webhook.runID.description)
        request.body = .bytes(ByteBuffer(string: webhook.payload))
        let response = try await httpClient.execute(request, timeout: TimeAmount.milliseconds(timeout.wholeMilliseconds), logger: logger)
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(response.status.code) else { throw DeliveryError(description: "the receiver answered \(response.status.code)") }
    }

    /// The classes of the addresses `host` resolves to.
    static func resolve(_ host: String, port: Int) async throws -> [IPAddressClass] {
        if let literal = IPAddressClass(literal: host) { return [literal] }
        // The first address getaddrinfo gives, as a client connecting would try first.
        let addresses = try await NIOThreadPool.singleton.runIfActive { () throws -> [SocketAddress] in
            [try SocketAddress.makeAddressResolvingHost(host, port: port)]
        }
        return addresses.compactMap { address in address.ipAddress.flatMap(IPAddressClass.init(literal:)) }
    }
}
