import Testing
import TrellisCore

@Suite("Server-sent events decoder")
struct SSEDecoderTests {
    static let stream = "data: {\"a\":1}\n\n: keep-alive comment\n\nevent: update\ndata: line one\ndata: line two\r\n\r\ndata:no-space\r\rdata: [DONE]\n\n"
    static let expected = [
        SSEDecoder.Event(data: #"{"a":1}"#),
        SSEDecoder.Event(event: "update", data: "line one\nline two"),
        SSEDecoder.Event(data: "no-space"),
        SSEDecoder.Event(data: "[DONE]"),
    ]

    @Test func decodesEventsWhateverTheSplits() throws {
        let bytes = Array(Self.stream.utf8)
        // Every split point, and byte by byte: the network may cut anywhere, even inside CRLF.
        for split in 0...bytes.count {
            var decoder = SSEDecoder()
            var events = try decoder.push(bytes[..<split])
            events += try decoder.push(bytes[split...])
            #expect(events == Self.expected, "split at \(split)")
            #expect(decoder.finish() == nil)
        }
        var decoder = SSEDecoder()
        var events: [SSEDecoder.Event] = []
        for byte in bytes { events += try decoder.push([byte]) }
        #expect(events == Self.expected)
    }

    @Test func anUnterminatedEventIsDispatchedAtTheEndAndLongLinesAreRefused() throws {
        var decoder = SSEDecoder()
        #expect(try decoder.push(Array("data: partial".utf8)).isEmpty)
        #expect(decoder.finish() == SSEDecoder.Event(data: "partial"))
        var small = SSEDecoder(maxLineBytes: 8)
        #expect(throws: SSEDecoder.LineTooLong.self) { try small.push(Array("data: 0123456789\n".utf8)) }
    }
}
