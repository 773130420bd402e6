import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The load side of `trellis bench relay`: many WebSocket subscribers of one run, served
/// by one thread with poll(2) and a minimal RFC 6455 client (handshake, unmasked server
/// frames, pong, masked client frames). Each frame costs a read and a substring scan, so
/// on a shared machine the figures measure the relay rather than the clients (a client
/// per Swift task with a JSON parse per frame took as much CPU as the relay itself).
/// Arrival times are recorded per seq; lags are computed afterwards from the log's `ts`.
final class BenchSubscribers: @unchecked Sendable {
    struct Result: Sendable {
        /// Live (not replayed) events: seq and arrival time (seconds since 1970).
        var arrivals: [(seq: Int64, at: Double)] = []
        var events = 0
        /// Every event arrived once, in order, from seq 1, and the stream ended.
        var complete = false
        var error: String?
    }

    private struct Client {
        var fd: Int32
        var handshaken = false
        var inbox: [UInt8] = []
        var result = Result()
        var lastSeq: Int64 = 0
        var acked = false
        var done = false
    }

    private let port: Int
    private let token: String
    private let run: UUID
    private let count: Int
    private let progress = Mutex((subscribed: 0, ended: 0))
    /// The clients' results once the thread is done, or whoever waits for them.
    private enum Outcome {
        case pending
        case waiting(CheckedContinuation<[Result], Never>)
        case done([Result])
    }
    private let outcome = Mutex(Outcome.pending)

    init(count: Int, port: Int, token: String, run: UUID) {
        self.count = count
        self.port = port
        self.token = token
        self.run = run
    }

    var subscribed: Int { progress.withLock { $0.subscribed } }
    var ended: Int { progress.withLock { $0.ended } }

    /// Connects every client and serves them on a thread of their own until all streams end.
    func start() {
        let thread = Thread { [self] in
            let results = serve()
            let waiting = outcome.withLock { outcome -> CheckedContinuation<[Result], Never>? in
                defer { outcome = .done(results) }
                if case .waiting(let continuation) = outcome { return continuation }
                return nil
            }
            waiting?.resume(returning: results)
        }
        thread.name = "bench-clients"
        thread.stackSize = 1 << 20
        thread.start()
    }

    func wait() async -> [Result] {
        await withCheckedContinuation { continuation in
            let done = outcome.withLock { outcome -> [Result]? in
                if case .done(let results) = outcome { return results }
                outcome = .waiting(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    private func serve() -> [Result] {
        var clients: [Client] = []
        clients.reserveCapacity(count)
        for index in 0..<count {
            var client = Client(fd: -1)
            do {
                client.fd = try connectAndUpgrade()
            } catch {
                client.result.error = "\(error)"
                client.done = true
                progress.withLock { $0.subscribed += 1; $0.ended += 1 }
            }
            clients.append(client)
        }
        var open = clients.filter { !$0.done }.count
        var polled = clients.map { pollfd(fd: $0.done ? -1 : $0.fd, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = Date().addingTimeInterval(600)
        while open > 0 && Date() < deadline {
            let ready = poll(&polled, nfds_t(polled.count), 1000)
            if ready < 0 && errno != EINTR { break }
            // poll(2) costs O(sockets) per call: when only a few are ready, let more arrive
            // for 0.2 ms rather than re-scanning 1,000 sockets per frame. This adds at most
            // 0.2 ms to a measured lag (never hides any).
            if ready > 0 && ready < 32 { usleep(200) }
            for index in polled.indices where ready > 0 && polled[index].revents != 0 {
                polled[index].revents = 0
                guard !clients[index].done else { continue }
                var closed = false
                while true {
                    let got = buffer.withUnsafeMutableBytes { recv(clients[index].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if got > 0 {
                        clients[index].inbox.append(contentsOf: buffer[0..<got])
                        if got < buffer.count { break }
                    } else {
                        closed = got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        break
                    }
                }
                consume(&clients[index], at: Date().timeIntervalSince1970)
                if closed && !clients[index].done {
                    clients[index].result.error = "connection closed before the end of the stream"
                    clients[index].done = true
                }
                if clients[index].done {
                    polled[index].fd = -1
                    close(clients[index].fd)
                    open -= 1
                    // A client refused before its subscription counts as subscribed too,
                    // so the bench never waits for it.
                    let refused = !clients[index].acked
                    progress.withLock { $0.ended += 1; if refused { $0.subscribed += 1 } }
                }
            }
        }
        for client in clients where !client.done { close(client.fd) }
        return clients.map { client in
            var result = client.result
            if !client.done && result.error == nil { result.error = "timed out" }
            return result
        }
    }

    /// Handles every whole frame (or the handshake) in the client's inbox.
    private func consume(_ client: inout Client, at now: Double) {
        if !client.handshaken {
            guard let end = find(Array("\r\n\r\n".utf8), in: client.inbox, from: 0) else { return }
            let head = String(decoding: client.inbox[0..<end], as: UTF8.self)
            client.inbox.removeFirst(end + 4)
            guard head.hasPrefix("HTTP/1.1 101") else {
                client.result.error = "upgrade refused: \(head.prefix(40))"
                client.done = true
                return
            }
            client.handshaken = true
            send(client.fd, opcode: 1, Array(#"{"op": "subscribe", "run_id": "\#(run.uuidString.lowercased())"}"#.utf8))
        }
        var offset = 0
        // Taken out while frames are handled (they update `client`), so dropping the
        // handled bytes below does not copy the buffer.
        var inbox = client.inbox
        client.inbox = []
        while !client.done && inbox.count - offset >= 2 {
            let opcode = inbox[offset] & 0x0f
            var length = Int(inbox[offset + 1] & 0x7f)
            var header = 2
            if length == 126 {
                guard inbox.count - offset >= 4 else { break }
                length = Int(inbox[offset + 2]) << 8 | Int(inbox[offset + 3])
                header = 4
            } else if length == 127 {
                guard inbox.count - offset >= 10 else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(inbox[offset + 2 + $1]) }
                header = 10
            }
            guard inbox.count - offset >= header + length else { break }
            let payload = inbox[(offset + header)..<(offset + header + length)]
            offset += header + length
            switch opcode {
            case 1: text(payload, client: &client, at: now)
            case 8: client.result.error = client.result.error ?? "closed by the relay"; client.done = true
            case 9: send(client.fd, opcode: 10, Array(payload))
            default: break
            }
        }
        inbox.removeFirst(offset)
        client.inbox = inbox
    }

    private func text(_ payload: ArraySlice<UInt8>, client: inout Client, at now: Double) {
        if starts(payload, #"{"v": 1"#) {
            guard let seq = number(after: #""seq": "#, in: payload), seq == client.lastSeq + 1 else {
                client.result.error = "out of order or duplicate event after seq \(client.lastSeq)"
                client.done = true
                return
            }
            client.lastSeq = seq
            client.result.events += 1
            if !ends(payload, #""replayed": true}"#) { client.result.arrivals.append((seq, now)) }
        } else if starts(payload, #"{"type": "ack""#) {
            client.acked = true
            progress.withLock { $0.subscribed += 1 }
        } else if starts(payload, #"{"type": "end""#) {
            client.result.complete = client.result.error == nil
            client.done = true
            send(client.fd, opcode: 8, [0x03, 0xe8])
        } else if starts(payload, #"{"type": "error""#) {
            client.result.error = String(decoding: payload, as: UTF8.self)
            client.done = true
        }
    }

    private func connectAndUpgrade() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw BenchError("connect: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let request = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(token)\r\n\r\n"
        guard writeAll(fd, Array(request.utf8)) else { close(fd); throw BenchError("sending the upgrade: errno \(errno)") }
        return fd
    }

    /// A masked client frame (RFC 6455 §5.3).
    private func send(_ fd: Int32, opcode: UInt8, _ payload: [UInt8]) {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        _ = writeAll(fd, frame)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let wrote = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if wrote < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { usleep(100); continue }
                return false
            }
            sent += wrote
        }
        return true
    }

    private func starts(_ payload: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        payload.starts(with: prefix.utf8)
    }

    private func ends(_ payload: ArraySlice<UInt8>, _ suffix: String) -> Bool {
        let suffix = Array(suffix.utf8)
        return payload.count >= suffix.count && payload.suffix(suffix.count).elementsEqual(suffix)
    }

    /// The integer right after `key` in `payload`.
    private func number(after key: String, in payload: ArraySlice<UInt8>) -> Int64? {
        guard let at = find(Array(key.utf8), in: payload, from: payload.startIndex) else { return nil }
        var value: Int64 = 0
        var index = at + key.utf8.count
        var digits = 0
        while index < payload.endIndex, (48...57).contains(payload[index]) {
            value = value * 10 + Int64(payload[index] - 48)
            index += 1
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    private func find<C: Collection>(_ needle: [UInt8], in haystack: C, from start: C.Index) -> C.Index? where C.Element == UInt8, C.Index == Int {
        guard needle.count <= haystack.count else { return nil }
        var index = start
        while index + needle.count <= haystack.endIndex {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
