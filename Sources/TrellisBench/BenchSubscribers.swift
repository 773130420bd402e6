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
                let closed = RawWebSocket.receive(clients[index].fd, into: &clients[index].inbox, buffer: &buffer)
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
