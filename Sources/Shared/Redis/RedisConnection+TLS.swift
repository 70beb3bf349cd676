import NIOCore
import NIOSSL
import NIOTLS

/// The TLS part of one `rediss://` connection attempt: the handlers that go in front of the Redis codec, and the
/// handshake's outcome.
///
/// The context is built per attempt, so that a reconnect reads rotated certificate files.
struct RedisTLSSession: Sendable {
    private let context: NIOSSLContext
    private let serverHostname: String?
    private let handshake: EventLoopPromise<Void>
    private let host: String
    private let port: Int

    init(endpoint: RedisEndpoint, tls: RedisTLS, eventLoop: any EventLoop) throws {
        host = endpoint.host
        port = endpoint.port
        do {
            context = try NIOSSLContext(configuration: try tls.makeTLSConfiguration())
        } catch {
            throw RedisError(.unavailable, "TLS settings for redis \(endpoint.host):\(endpoint.port) are unusable: \(error)")
        }
        serverHostname = tls.expectedHostname(for: endpoint.host)
        handshake = eventLoop.makePromise(of: Void.self)
    }

    /// Adds the TLS client handler and the handshake observer; called from the channel initializer.
    func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
        try pipeline.addHandler(TLSHandshakeObserver(handshake: handshake))
    }

    /// Fails the handshake when the TCP connection never came up.
    func abandon(_ error: any Error) {
        handshake.fail(error)
    }

    /// Waits until the handshake succeeded; otherwise closes the channel and throws `RedisError.unavailable` that
    /// says why (certificate not trusted, name mismatch, not a TLS port…).
    func waitForHandshake(on channel: any Channel, timeout: Duration) async throws {
        let handshake = self.handshake
        let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(timeout.wholeMilliseconds)) {
            handshake.fail(RedisError(.timeout, "no TLS handshake within \(timeout)"))
        }
        defer { deadline.cancel() }
        do {
            try await handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            let reason = TLSFailure.explain(error, expectedName: serverHostname ?? host)
            throw RedisError(.unavailable, "TLS handshake with redis \(host):\(port) failed: \(reason)")
        }
    }
}

/// Completes a promise when NIOSSL reports the handshake done (chain and name verified), or fails it with the first
/// error or the connection's end. Everything passes through unchanged.
final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let handshake: EventLoopPromise<Void>

    init(handshake: EventLoopPromise<Void>) {
        self.handshake = handshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent { handshake.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(RedisError(.connectionClosed, "the server closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshake.fail(RedisError(.connectionClosed, "the connection ended during the TLS handshake"))
    }
}

/// Turns NIOSSL's handshake errors into one line an operator can act on; the original text follows in brackets.
public enum TLSFailure {
    /// What went wrong, in words, then NIOSSL's own description.
    ///
    /// - Parameter expectedName: The name (or IP address) the server's certificate had to carry.
    public static func explain(_ error: any Error, expectedName: String) -> String {
        if let redis = error as? RedisError { return explain(text: redis.message, expectedName: expectedName) }
        return explain(text: String(describing: error), expectedName: expectedName)
    }

    /// The same for an error already turned into text.
    public static func explain(text: String, expectedName: String) -> String {
        let reasons: [(marker: String, reason: String)] = [
            ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed: the server's certificate is not signed by a trusted CA"),
            ("failedToValidateHostname", "certificate name mismatch: the server's certificate is not valid for \(expectedName)"),
            ("WRONG_VERSION_NUMBER", "the server did not answer with TLS (a plaintext port?)"),
            ("CERTIFICATE_REQUIRED", "the server requires a client certificate"),
            ("UNKNOWN_CA", "the server does not trust the client certificate's CA"),
            ("BAD_CERTIFICATE", "the server refused the client certificate"),
            ("EOF during handshake", "the server closed the connection during the handshake (a plaintext port?)"),
        ]
        guard let known = reasons.first(where: { text.contains($0.marker) }) else { return text }
        return "\(known.reason) [\(text)]"
    }
}
