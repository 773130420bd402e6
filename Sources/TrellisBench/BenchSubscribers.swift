import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import CNIOLinux  // sys/epoll.h

/// The load side of `trellis bench relay`: many WebSocket subscribers of one run, served
/// by one thread with epoll and a minimal RFC 6455 client (handshake, unmasked server
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
        for _ in 0..<count {
            var client = Client(fd: -1)
            do {
                client.fd = try RawWebSocket.connect(port: port, path: "/v1/ws", token: token)
            } catch {
                client.result.error = "\(error)"
                client.done = true
                progress.withLock { $0.subscribed += 1; $0.ended += 1 }
            }
            clients.append(client)
        }
        var open = clients.filter { !$0.done }.count
        // epoll, not poll(2): a poll call costs O(sockets), so at 1,000 clients the load
        // side re-scanned every socket per burst and took a core's share from the relay it
        // measures; an epoll wait costs O(ready sockets).
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else {
            for client in clients where !client.done { close(client.fd) }
            return clients.map { var result = $0.result; result.error = result.error ?? "epoll_create1 failed: errno \(errno)"; return result }
        }
        defer { close(epoll) }
        for index in clients.indices where !clients[index].done {
            var interest = epoll_event()
            interest.events = EPOLLIN.rawValue
            interest.data.u64 = UInt64(index)
            _ = epoll_ctl(epoll, Int32(EPOLL_CTL_ADD), clients[index].fd, &interest)
        }
        var readyEvents = [epoll_event](repeating: epoll_event(), count: 256)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = Date().addingTimeInterval(600)
        while open > 0 && Date() < deadline {
            let ready = epoll_wait(epoll, &readyEvents, Int32(readyEvents.count), 1000)
            if ready < 0 && errno != EINTR { break }
            for slot in 0..<max(Int(ready), 0) {
                let index = Int(readyEvents[slot].data.u64)
                guard !clients[index].done else { continue }
                let closed = RawWebSocket.receive(clients[index].fd, into: &clients[index].inbox, buffer: &buffer)
                consume(&clients[index], at: Date().timeIntervalSince1970)
                if closed && !clients[index].done {
                    clients[index].result.error = "connection closed before the end of the stream"
                    clients[index].done = true
                }
                if clients[index].done {
                    _ = epoll_ctl(epoll, Int32(EPOLL_CTL_DEL), clients[index].fd, nil)
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
            guard let status = RawWebSocket.takeHandshake(&client.inbox) else { return }
            guard status == 101 else {
                client.result.error = "upgrade refused: HTTP \(status)"
                client.done = true
                return
            }
            client.handshaken = true
            RawWebSocket.send(client.fd, opcode: 1, Array(#"{"op": "subscribe", "run_id": "\#(run.uuidString.lowercased())"}"#.utf8))
        }
        for frame in RawWebSocket.takeFrames(&client.inbox) where !client.done {
            switch frame.opcode {
            case 1: text(frame.payload, client: &client, at: now)
            case 8: client.result.error = client.result.error ?? "closed by the relay"; client.done = true
            case 9: RawWebSocket.send(client.fd, opcode: 10, Array(frame.payload))
            default: break
            }
        }
    }

    private func text(_ payload: ArraySlice<UInt8>, client: inout Client, at now: Double) {
        if starts(payload, #"{"v": 1"#) {
            guard let seq = RawWebSocket.number(after: #""seq": "#, in: payload), seq == client.lastSeq + 1 else {
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
            RawWebSocket.send(client.fd, opcode: 8, [0x03, 0xe8])
        } else if starts(payload, #"{"type": "error""#) {
            client.result.error = String(decoding: payload, as: UTF8.self)
            client.done = true
        }
    }

    private func starts(_ payload: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        payload.starts(with: prefix.utf8)
    }

    private func ends(_ payload: ArraySlice<UInt8>, _ suffix: String) -> Bool {
        let suffix = Array(suffix.utf8)
        return payload.count >= suffix.count && payload.suffix(suffix.count).elementsEqual(suffix)
    }
}
