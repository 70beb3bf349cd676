#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Shared

/// Lets the kernel close connections to peers that vanished without a FIN (a laptop lid closed, a network gone):
/// data that stays unacknowledged for `userTimeout` aborts the connection (`TCP_USER_TIMEOUT`), and an idle one is
/// probed with TCP keepalives (first after `keepAliveIdle`, then every `keepAliveInterval`, given up after
/// `keepAliveProbes`).
///
/// Added to every accepted connection's pipeline, it sets the socket options once and is removed with the HTTP
/// handlers on a WebSocket upgrade; the options stay on the socket. WebSocket sessions send a `heartbeat` every 15 s,
/// so a vanished client's connection is closed within `userTimeout` plus one heartbeat interval. This replaces
/// hummingbird-websocket's automatic pings, whose task per connection cost every open WebSocket about 2.6 kB
/// (`scripts/bench websocket`).
final class DeadPeerDetection: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = Never

    struct Settings: Sendable {
        var userTimeout: Duration = .seconds(60)
        var keepAliveIdle: Duration = .seconds(30)
        var keepAliveInterval: Duration = .seconds(10)
        var keepAliveProbes = 3
    }

    let settings: Settings

    init(_ settings: Settings = .init()) {
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) {
        #if os(Linux)
        let options = context.channel.syncOptions
        try? options?.setOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
        try? options?.setOption(Self.tcp(TCP_USER_TIMEOUT), value: SocketOptionValue(settings.userTimeout.wholeMilliseconds))
        try? options?.setOption(Self.tcp(TCP_KEEPIDLE), value: SocketOptionValue(settings.keepAliveIdle.wholeSeconds))
        try? options?.setOption(Self.tcp(TCP_KEEPINTVL), value: SocketOptionValue(settings.keepAliveInterval.wholeSeconds))
        try? options?.setOption(Self.tcp(TCP_KEEPCNT), value: SocketOptionValue(settings.keepAliveProbes))
        #endif
    }

    static func tcp(_ name: Int32) -> ChannelOptions.Types.SocketOption {
        ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name))
    }
}

extension Duration {
    var wholeSeconds: Int64 { components.seconds }
}
