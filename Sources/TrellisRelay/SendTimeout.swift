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
/// to the HTTP pipeline of each connection that stays HTTP; a WebSocket's socket gets it
/// before its upgrade (`apply`).
final class SendTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let timeout: Duration

    init(_ timeout: Duration) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        Self.apply(timeout, to: context.channel)
    }

    /// Sets the option on `channel`'s socket (zero: leaves the kernel's default).
    static func apply(_ timeout: Duration, to channel: any Channel) {
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        guard milliseconds > 0 else { return }
        let option = ChannelOptions.Types.SocketOption(level: .init(rawValue: Int32(IPPROTO_TCP)),
                                                       name: .init(rawValue: TCP_USER_TIMEOUT))
        channel.setOption(option, value: milliseconds).whenFailure { _ in }
    }
}
