import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal RFC 6455 client over a plain socket, for load and fault drivers that serve
/// hundreds of sockets from one poll(2) thread: the upgrade request, masked client
/// frames, and whole server frames cut from a byte buffer.
enum RawWebSocket {
    struct Frame {
        var opcode: UInt8
        var payload: ArraySlice<UInt8>
    }

    /// Connects to 127.0.0.1:`port` and sends the upgrade request for `path` with a bearer
    /// token; the 101 answer arrives in the socket's first bytes.
    static func connect(port: Int, path: String, token: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ChaosError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw ChaosError("connect: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(token)\r\n\r\n"
        guard writeAll(fd, Array(request.utf8)) else { close(fd); throw ChaosError("sending the upgrade: errno \(errno)") }
        return fd
    }

    /// Appends everything readable now (without blocking) to `inbox`; true when the peer
    /// closed the connection or it failed.
    static func receive(_ fd: Int32, into inbox: inout [UInt8], buffer: inout [UInt8]) -> Bool {
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if got > 0 {
                inbox.append(contentsOf: buffer[0..<got])
                if got < buffer.count { return false }
            } else {
                return got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            }
        }
    }

    /// Takes the HTTP answer off the front of `inbox`: nil while incomplete, else its
    /// status code (101 when upgraded).
    static func takeHandshake(_ inbox: inout [UInt8]) -> Int? {
        let marker = Array("\r\n\r\n".utf8)
        guard inbox.count >= 4, let end = (0...(inbox.count - 4)).first(where: { inbox[$0..<($0 + 4)].elementsEqual(marker) }) else { return nil }
        let head = String(decoding: inbox[0..<end], as: UTF8.self)
        inbox.removeFirst(end + 4)
        return head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }

    /// Cuts every whole frame off the front of `inbox`.
    static func takeFrames(_ inbox: inout [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var offset = 0
        while inbox.count - offset >= 2 {
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
            frames.append(Frame(opcode: opcode, payload: ArraySlice(inbox[(offset + header)..<(offset + header + length)])))
            offset += header + length
        }
        inbox.removeFirst(offset)
        return frames
    }

    /// Sends one masked client frame (RFC 6455 §5.3).
    @discardableResult
    static func send(_ fd: Int32, opcode: UInt8, _ payload: [UInt8]) -> Bool {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return writeAll(fd, frame)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
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

    /// The integer right after `key` in `payload` (a scan, not a JSON parse: cheap per frame).
    static func number(after key: String, in payload: ArraySlice<UInt8>) -> Int64? {
        let needle = Array(key.utf8)
        guard needle.count <= payload.count else { return nil }
        var index = payload.startIndex
        while index + needle.count <= payload.endIndex {
            if payload[index] == needle[0] && payload[index..<(index + needle.count)].elementsEqual(needle) {
                var value: Int64 = 0
                var cursor = index + needle.count
                var digits = 0
                while cursor < payload.endIndex, (48...57).contains(payload[cursor]) {
                    value = value * 10 + Int64(payload[cursor] - 48)
                    cursor += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            index += 1
        }
        return nil
    }
}

struct ChaosError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
