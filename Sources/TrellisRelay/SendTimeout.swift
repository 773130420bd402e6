#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Sets `TCP_USER_TIMEOUT` on every accepted connection, so the kernel closes one whose
/// sent data stays unacknowledged (a client that vanished without a FIN: a sleeping laptop,
/// a dropped NAT mapping) or unsent because the client stopped reading (its window stays
/// shut) for longer than `timeout`. The relay never waits on a client while pushing, but a
/// stream's own write does wait, and without this such a stream held its task, its queue
/// and its `maxStreams` slot until the kernel's retransmissions gave up (many minutes) or,
/// for a live client that never reads, for good. The failed write ends the stream. Added
/// to the HTTP pipeline of each connection (and removed on a WebSocket upgrade; the option
/// stays on the socket).
final class SendTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let milliseconds: Int

    init(_ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        milliseconds = Int(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard milliseconds > 0 else { return }
        let option = ChannelOptions.Types.SocketOption(level: .init(rawValue: Int32(IPPROTO_TCP)),
                                                       name: .init(rawValue: TCP_USER_TIMEOUT))
        context.channel.setOption(option, value: milliseconds).whenFailure { _ in }
    }
}
