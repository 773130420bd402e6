import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// Writes to one WebSocket. Not an actor: the outbound writer takes writes from several
/// tasks at once (the request loop and each subscription), each task's own messages stay
/// in order, and an extra hop per batch showed in fan-out profiles.
///
/// A batch of frames (what one hub push or one log read brought a subscriber) goes out
/// with one flush — one `writev` — where the frames can be handed to the channel as they
/// are. hummingbird-websocket's `WebSocketOutboundWriter` writes and flushes one frame per
/// call (a syscall per frame: the largest single cost of fanning out to 1,000 subscribers),
/// and does not expose the channel writer under it, which takes a whole sequence with one
/// flush. That writer is reached by reflection (`frameWriter`), and only used when the
/// handler would pass frames through unchanged: a server's (no masking) with no extensions
/// (no compression). Otherwise, or if a later version stores it differently, frames go one
/// by one as before — `SocketWriterTests` fails if the batched path is lost.
struct SocketWriter: Sendable {
    let outbound: WebSocketOutboundWriter
    /// The channel writer under `outbound`, when batches may go to it directly.
    let frameWriter: NIOAsyncChannelOutboundWriter<WebSocketFrame>?

    init(outbound: WebSocketOutboundWriter) {
        self.outbound = outbound
        self.frameWriter = Self.frameWriter(under: outbound)
    }

    func send(_ text: String) async throws { try await outbound.write(.text(text)) }

    /// One frame per message, as PROTOCOL.md says; one flush for them all when possible.
    func send(frames: [WebSocketOutboundWriter.OutboundFrame]) async throws {
        guard frames.count > 1, let frameWriter else {
            for frame in frames { try await outbound.write(frame) }
            return
        }
        try Task.checkCancellation()
        try await frameWriter.write(contentsOf: frames.map(Self.frame))
    }

    /// The frame `WebSocketOutboundWriter.write` would make of `outbound`.
    static func frame(_ outbound: WebSocketOutboundWriter.OutboundFrame) -> WebSocketFrame {
        switch outbound {
        case .text(let text): WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))
        case .binary(let buffer): WebSocketFrame(fin: true, opcode: .binary, data: buffer)
        case .pong: WebSocketFrame(fin: true, opcode: .pong, data: ByteBuffer())
        case .custom(let frame): frame
        }
    }

    /// The handler's channel writer, if it is a server's with no extensions.
    static func frameWriter(under outbound: WebSocketOutboundWriter) -> NIOAsyncChannelOutboundWriter<WebSocketFrame>? {
        guard let handler = Mirror(reflecting: outbound).descendant("handler") else { return nil }
        let fields = Mirror(reflecting: handler)
        guard let type = fields.descendant("type") as? WebSocketType, case .server = type,
              let extensions = fields.descendant("configuration", "extensions") as? [any WebSocketExtension],
              extensions.isEmpty
        else { return nil }
        return fields.descendant("outbound") as? NIOAsyncChannelOutboundWriter<WebSocketFrame>
    }
}
