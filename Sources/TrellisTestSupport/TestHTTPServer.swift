import Foundation

/// A tiny HTTP/1.1 server on 127.0.0.1 for handler tests: one thread, one request per
/// connection. Routes: `/ok` echoes the request body as JSON (200), `/status/N` answers N,
/// `/slow` answers after 5 s. It records the requests it saw.
public final class TestHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: String
    }

    /// Writes a response by hand (status line, headers, body pieces with pauses): what a
    /// scripted server needs, such as a fake model API streaming server-sent events.
    public final class Writer: @unchecked Sendable {
        let client: Int32
        init(client: Int32) { self.client = client }

        /// False once the client has gone (the write failed).
        @discardableResult
        public func write(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }

        /// One chunk of a `Transfer-Encoding: chunked` body.
        @discardableResult
        public func chunk(_ text: String) -> Bool {
            write(String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n")
        }

        /// The last chunk of a chunked body.
        public func endChunks() { write("0\r\n\r\n") }
    }

    public let port: Int
    private let socketFD: Int32
    private let lock = NSLock()
    private var seen: [Request] = []
    /// Answers a request itself when it returns true (the default routes otherwise).
    private let responder: (@Sendable (Request, Writer) -> Bool)?

    public var requests: [Request] { lock.withLock { seen } }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(responder: (@Sendable (Request, Writer) -> Bool)? = nil) throws {
        self.responder = responder
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        socketFD = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    /// Closing the listening socket ends the accept loop.
    public func stop() {
        shutdown(socketFD, Int32(SHUT_RDWR))
        close(socketFD)
    }

    private func serve() {
        while true {
            let client = accept(socketFD, nil, nil)
            if client < 0 { return }
            Thread { [self] in self.handle(client) }.start()
        }
    }

    private func handle(_ client: Int32) {
        defer { close(client) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { return }
            data.append(contentsOf: buffer[0..<count])
            headerEnd = data.range(of: Data("\r\n\r\n".utf8))
        }
        let head = String(decoding: data[..<headerEnd!.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = data[headerEnd!.upperBound...]
        while body.count < length {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { break }
            body.append(contentsOf: buffer[0..<count])
        }
        let request = Request(method: String(parts.first ?? ""), path: String(parts.count > 1 ? parts[1] : ""),
                              headers: headers, body: String(decoding: body, as: UTF8.self))
        lock.withLock { seen.append(request) }
        if let responder, responder(request, Writer(client: client)) { return }

        var status = 200
        var payload = request.body.isEmpty ? #"{"ok": true}"# : request.body
        if request.path.hasPrefix("/status/") {
            status = Int(request.path.dropFirst("/status/".count)) ?? 500
            payload = #"{"error": "status \#(status)"}"#
        } else if request.path == "/slow" {
            Thread.sleep(forTimeInterval: 5)
        } else if request.path.hasPrefix("/big/") {
            // A JSON string of N bytes.
            payload = "\"" + String(repeating: "b", count: Int(request.path.dropFirst("/big/".count)) ?? 0) + "\""
        }
        let response = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(payload.utf8.count)\r\nConnection: close\r\n\r\n\(payload)"
        _ = response.withCString { write(client, $0, strlen($0)) }
    }
}
