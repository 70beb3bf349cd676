import NIOCore

/// A batch of already-encoded commands and the promise for their replies, in order.
struct RedisRequest: Sendable {
    let encoded: ByteBuffer
    let replyCount: Int
    let promise: EventLoopPromise<[RedisValue]>
}

/// Sent down the pipeline when a command's deadline passes: every pending request fails and the connection closes.
struct RedisDeadlineExceeded: Sendable {}

/// Matches replies to requests in order; on a subscriber connection, routes pushed messages aside.
///
/// hiredis does the protocol work: the encoded bytes come from `redisFormatCommandArgv`, replies from `redisReader`.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let replyCount: Int
        let promise: EventLoopPromise<[RedisValue]>
    }

    private let decoder = RedisReplyDecoder()
    private var pending = CircularBuffer<Pending>(initialCapacity: 16)
    /// Replies collected for the head of `pending`; kept outside the buffer so appending never copies it.
    private var collected: [RedisValue] = []
    private let onPush: (@Sendable (RedisValue) -> Void)?
    private var failure: RedisError?

    init(onPush: (@Sendable (RedisValue) -> Void)?) {
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        pending.append(Pending(replyCount: request.replyCount, promise: request.promise))
        context.write(wrapOutboundOut(request.encoded), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try decoder.feed(unwrapInboundIn(data))
            while let reply = try decoder.next() { route(reply) }
        } catch let error as RedisError {
            failAll(error, context: context)
        } catch {
            failAll(RedisError(.protocolError, "\(error)"), context: context)
        }
    }

    private func route(_ reply: RedisValue) {
        if let onPush, Self.isPush(reply) {
            onPush(reply)
            return
        }
        guard let head = pending.first else { return }
        collected.append(reply)
        if collected.count == head.replyCount {
            pending.removeFirst()
            let replies = collected
            collected = []
            head.promise.succeed(replies)
        }
    }

    private static func isPush(_ reply: RedisValue) -> Bool {
        guard case .array(let elements) = reply, let kind = elements.first?.string else { return false }
        return kind == "message" || kind == "pmessage"
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if event is RedisDeadlineExceeded {
            failAll(RedisError(.timeout, "no reply within the deadline"), context: context)
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, "connection closed"), context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError(.connectionClosed, "\(error)"), context: context)
    }

    private func failAll(_ error: RedisError, context: ChannelHandlerContext?) {
        if failure == nil { failure = error }
        collected = []
        while let head = pending.popFirst() { head.promise.fail(error) }
        context?.close(promise: nil)
    }
}
