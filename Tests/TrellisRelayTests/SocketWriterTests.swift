import Foundation
import Hummingbird
import HummingbirdWebSocket
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import Testing
@testable import TrellisRelay

/// `SocketWriter` reaches the channel writer under hummingbird-websocket's outbound writer
/// by reflection, to write a batch of frames with one flush. Over a real server and client
/// on 127.0.0.1: that path is found (it fails when a dependency update moves the field —
/// the relay would still work, one flush per frame, but this is what keeps fan-out cheap),
/// and a batch arrives as separate messages, whole and in order, beside single writes.
@Suite struct SocketWriterTests {
    @Test func aBatchGoesToTheChannelWriterAndArrivesAsSeparateMessagesInOrder() async throws {
        let batched = Mutex<Bool?>(nil)
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("ws") { inbound, outbound, _ in
            let writer = SocketWriter(outbound: outbound)
            batched.withLock { $0 = writer.frameWriter != nil }
            try await writer.send("first, alone")
            try await writer.send(frames: [
                .text("one"),
                .custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: #"{"seq": 2}"#))),
                .text(String(repeating: "x", count: 70_000)),  // a 64-bit length header
                .text("four"),
            ])
            try await writer.send(frames: [.text("single in a batch")])
            try await writer.send("last")
            for try await _ in inbound {}
        }
        var logger = Logger(label: "socket-writer-test")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: logger)
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let received = Mutex<[String]>([])
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws", configuration: configuration, logger: logger) { inbound, outbound, _ in
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message else { continue }
                let count = received.withLock { $0.append(text); return $0.count }
                if count == 7 { break }
            }
            try? await outbound.close(.normalClosure, reason: nil)
        }
        #expect(batched.withLock { $0 } == true)
        // The long message compared by length and content, so a failure prints a short line.
        let messages = received.withLock { $0 }.map { $0.count > 100 && $0.allSatisfy { $0 == "x" } ? "x × \($0.count)" : $0 }
        #expect(messages == ["first, alone", "one", #"{"seq": 2}"#, "x × 70000", "four", "single in a batch", "last"])
    }
}
