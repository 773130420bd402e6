/// Server-sent events decoded from bytes as they arrive, split anywhere (the network does):
/// `data:` lines accumulate and a blank line dispatches them as one event, joined by "\n";
/// `event:` names it; comments (`:`) and other fields are ignored. Lines end in LF, CRLF
/// or CR. A line longer than `maxLineBytes` is refused rather than buffered without bound.
public struct SSEDecoder: Sendable {
    public struct Event: Sendable, Equatable {
        public var event: String?
        public var data: String

        public init(event: String? = nil, data: String) {
            self.event = event
            self.data = data
        }
    }

    public struct LineTooLong: Error, Sendable, CustomStringConvertible {
        public var limit: Int
        public var description: String { "a server-sent event line is longer than \(limit) bytes" }
    }

    public let maxLineBytes: Int
    private var line: [UInt8] = []
    private var data: [String] = []
    private var event: String?
    private var afterCR = false

    public init(maxLineBytes: Int = 8 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// The events completed by `bytes`.
    public mutating func push(_ bytes: some Sequence<UInt8>) throws -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }  // CRLF: the CR ended the line already
            }
            switch byte {
            case 0x0A, 0x0D:
                afterCR = byte == 0x0D
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < maxLineBytes else { throw LineTooLong(limit: maxLineBytes) }
                line.append(byte)
            }
        }
        return events
    }

    /// The stream ended: an event whose blank line never came is dispatched.
    public mutating func finish() -> Event? {
        if !line.isEmpty { _ = endLine() }
        return dispatch()
    }

    private mutating func endLine() -> Event? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring, value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            let rest = text[text.index(after: colon)...]
            value = rest.first == " " ? rest.dropFirst() : rest
        } else {
            field = text[...]
            value = ""
        }
        switch field {
        case "data": data.append(String(value))
        case "event": event = String(value)
        default: break
        }
        return nil
    }

    private mutating func dispatch() -> Event? {
        defer {
            data = []
            event = nil
        }
        guard !data.isEmpty else { return nil }
        return Event(event: event, data: data.joined(separator: "\n"))
    }
}
