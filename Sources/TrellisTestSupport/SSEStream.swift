import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A Server-Sent Events client for streams that do not end (the run feed): a plain
/// socket to 127.0.0.1, a background reader, and the events parsed so far. Chunked
/// transfer framing is skipped by reading only `id:`, `event:` and `data:` lines (the
/// relay writes whole events per chunk).
public final class SSEStream: Sendable {
    public struct Event: Sendable, Hashable {
        public var id: String?
        public var event: String
        public var data: String
    }

    private struct State {
        var events: [Event] = []
        var status: Int?
        var head = ""
        var pending = ""
        var closed = false
        /// `: heartbeat` comments received.
        var heartbeats = 0
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let fd: Int32
    private let shared = Shared()

    /// Opens `GET path` with the bearer token and extra headers.
    public init(port: Int, path: String, token: String, headers: [String: String] = [:]) throws {
        let fd = try LoopbackSocket.connect(port: port)
        self.fd = fd
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try LoopbackSocket.sendAll(fd, Array(request.utf8))  // on failure deinit closes the socket
        let shared = self.shared
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                shared.state.withLock { Self.consume(text, into: &$0) }
            }
            shared.state.withLock { $0.closed = true }
        }
    }

    private static func consume(_ text: String, into state: inout State) {
        if state.status == nil {
            state.head += text
            guard let end = state.head.range(of: "\r\n\r\n") else { return }
            let statusLine = state.head[..<end.lowerBound].split(separator: "\r\n").first ?? ""
            state.status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
            state.pending = String(state.head[end.upperBound...]).replacingOccurrences(of: "\r", with: "")
        } else {
            // Without CRs (chunk framing's line ends; JSON never carries a raw CR): Swift
            // reads "\r\n" as one Character, which would hide the "\n" splits below.
            state.pending += text.replacingOccurrences(of: "\r", with: "")
        }
        // Whole events end with a blank line; anything after the last one waits for more.
        while let end = state.pending.range(of: "\n\n") {
            let block = state.pending[..<end.lowerBound]
            state.pending = String(state.pending[end.upperBound...])
            if block.split(separator: "\n").contains(where: { $0.hasPrefix(": heartbeat") }) { state.heartbeats += 1 }
            var id: String?, event: String?, data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            if let event, let data { state.events.append(Event(id: id, event: event, data: data)) }
        }
    }

    public var events: [Event] { shared.state.withLock { $0.events } }
    public var status: Int? { shared.state.withLock { $0.status } }
    public var isClosed: Bool { shared.state.withLock { $0.closed } }
    public var heartbeats: Int { shared.state.withLock { $0.heartbeats } }

    /// Waits until `condition` holds for the events so far, or fails after `timeout`.
    @discardableResult
    public func wait(timeout: Duration = .seconds(30), _ what: String, until condition: ([Event]) -> Bool) async throws -> [Event] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let events = self.events
            if condition(events) { return events }
            if ContinuousClock.now >= deadline || (isClosed && !condition(self.events)) {
                throw StreamError("\(what): not seen within \(timeout) (closed: \(isClosed), \(events.count) events: \(events.map(\.event)))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    public func close() { shutdown(fd, Int32(SHUT_RDWR)) }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    public struct StreamError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
