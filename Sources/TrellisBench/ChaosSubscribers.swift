import Foundation
import Synchronization
import TrellisCore
#if canImport(Glibc)
import Glibc
#endif

/// The run ids a chaos driver has started so far, for subscribers to follow as they appear.
final class RunSource: Sendable {
    private let state = Mutex<(ids: [UUID], closed: Bool)>(([], false))
    func append(_ id: UUID) { state.withLock { $0.ids.append(id) } }
    func close() { state.withLock { $0.closed = true } }
    /// The id at `index`, `.wait` until it exists, or `.exhausted` when none ever will.
    enum Next { case run(UUID), wait, exhausted }
    func next(_ index: Int) -> Next {
        state.withLock { state in
            if index < state.ids.count { return .run(state.ids[index]) }
            return state.closed ? .exhausted : .wait
        }
    }
}

/// WebSocket subscribers that follow runs through a relay while dropping their own
/// connection at random and resuming from their cursor (`"after": seq`). Each checks that
/// every stream arrives gap-free — seq 1, 2, 3, … to `end` — across any number of drops.
/// One thread serves every socket with poll(2).
final class ChaosSubscribers: @unchecked Sendable {
    struct Result: Sendable {
        var runs = 0
        var events = 0
        var drops = 0
        var reconnects = 0
        var error: String?
    }

    private struct Client {
        var index: Int
        var fd: Int32 = -1
        var handshaken = false
        var inbox: [UInt8] = []
        /// The n-th run this client follows: runs index, index + count, …
        var turn = 0
        var run: UUID?
        var cursor: Int64 = 0
        var retryAt = Date.distantPast
        var done = false
        var result = Result()
    }

    private let count: Int
    private let port: Int
    private let token: String
    private let source: RunSource
    private let dropProbability: Double
    private var random: SeededGenerator
    private let finished = Mutex<[Result]?>(nil)

    init(count: Int, port: Int, token: String, source: RunSource, dropProbability: Double, seed: UInt64) {
        self.count = count
        self.port = port
        self.token = token
        self.source = source
        self.dropProbability = dropProbability
        self.random = SeededGenerator(seed: seed)
    }

    func start(deadline: Date) {
        let thread = Thread { [self] in
            let results = serve(deadline: deadline)
            finished.withLock { $0 = results }
        }
        thread.name = "chaos-subscribers"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The results once every client is done (or the deadline passed).
    func wait() async -> [Result] {
        while true {
            if let results = finished.withLock({ $0 }) { return results }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func serve(deadline: Date) -> [Result] {
        var clients = (0..<count).map { Client(index: $0) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while Date() < deadline && clients.contains(where: { !$0.done }) {
            let now = Date()
            for index in clients.indices where !clients[index].done {
                if clients[index].run == nil { advance(&clients[index]) }
                if clients[index].fd < 0 && clients[index].run != nil && now >= clients[index].retryAt { open(&clients[index]) }
            }
            var polled = clients.map { pollfd(fd: $0.done ? -1 : $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), 20)
            if ready <= 0 { continue }
            for index in polled.indices where polled[index].revents != 0 && clients[index].fd >= 0 {
                let closed = RawWebSocket.receive(clients[index].fd, into: &clients[index].inbox, buffer: &buffer)
                consume(&clients[index])
                if closed && clients[index].fd >= 0 {
                    // The relay went away or closed us: resume from the cursor.
                    disconnect(&clients[index], retryIn: 0.2)
                }
            }
        }
        for client in clients where client.fd >= 0 { close(client.fd) }
        return clients.map { client in
            var result = client.result
            if !client.done && result.error == nil {
                result.error = "timed out following run \(client.run?.uuidString.lowercased() ?? "-") at seq \(client.cursor)"
            }
            return result
        }
    }

    /// Moves a client to its next run, if one has started.
    private func advance(_ client: inout Client) {
        switch source.next(client.index + client.turn * count) {
        case .run(let id):
            client.run = id
            client.cursor = 0
            client.turn += 1
            if client.fd >= 0 && client.handshaken { subscribe(client) }
        case .wait:
            break
        case .exhausted:
            client.done = true
            if client.fd >= 0 { close(client.fd); client.fd = -1 }
        }
    }

    private func open(_ client: inout Client) {
        do {
            client.fd = try RawWebSocket.connect(port: port, path: "/v1/ws", token: token)
            client.handshaken = false
            client.inbox = []
        } catch {
            client.retryAt = Date().addingTimeInterval(0.2)
        }
    }

    private func disconnect(_ client: inout Client, retryIn seconds: Double) {
        if client.fd >= 0 { close(client.fd) }
        client.fd = -1
        client.handshaken = false
        client.inbox = []
        client.retryAt = Date().addingTimeInterval(seconds)
        client.result.reconnects += 1
    }

    private func subscribe(_ client: Client) {
        guard let run = client.run else { return }
        RawWebSocket.send(client.fd, opcode: 1, Array(#"{"op": "subscribe", "run_id": "\#(run.uuidString.lowercased())", "after": \#(client.cursor)}"#.utf8))
    }

    private func fail(_ client: inout Client, _ message: String) {
        if client.result.error == nil { client.result.error = message }
        client.done = true
        if client.fd >= 0 { close(client.fd); client.fd = -1 }
    }

    private func consume(_ client: inout Client) {
        if !client.handshaken {
            guard let status = RawWebSocket.takeHandshake(&client.inbox) else { return }
            if status == 401 || status == 403 { return fail(&client, "the relay refused the WebSocket upgrade with \(status)") }
            // Anything else but 101 (a 503 while the database restarts): try again shortly.
            guard status == 101 else { return disconnect(&client, retryIn: 0.2) }
            client.handshaken = true
            subscribe(client)
        }
        for frame in RawWebSocket.takeFrames(&client.inbox) {
            guard !client.done, client.fd >= 0 else { return }
            switch frame.opcode {
            case 1: text(frame.payload, client: &client)
            case 8: disconnect(&client, retryIn: 0.2)
            case 9: RawWebSocket.send(client.fd, opcode: 10, Array(frame.payload))
            default: break
            }
        }
    }

    private func text(_ payload: ArraySlice<UInt8>, client: inout Client) {
        if payload.starts(with: #"{"v": 1"#.utf8) {
            guard let seq = RawWebSocket.number(after: #""seq": "#, in: payload) else { return fail(&client, "an event without seq") }
            guard seq == client.cursor + 1 else {
                return fail(&client, "run \(client.run?.uuidString.lowercased() ?? "-"): got seq \(seq) after \(client.cursor) (gap or duplicate)")
            }
            client.cursor = seq
            client.result.events += 1
            if random.nextDouble() < dropProbability {
                client.result.drops += 1
                disconnect(&client, retryIn: 0.01 + random.nextDouble() * 0.2)
            }
        } else if payload.starts(with: #"{"type": "end""#.utf8) {
            client.result.runs += 1
            client.run = nil
            advance(&client)
        } else if payload.starts(with: #"{"type": "reset""#.utf8) {
            disconnect(&client, retryIn: 0.05)
        } else if payload.starts(with: #"{"type": "error""#.utf8) {
            let text = String(decoding: payload, as: UTF8.self)
            // The relay could not reach the database (a restart): resubscribe from the cursor.
            if text.contains(#""code": "unavailable""#) { return disconnect(&client, retryIn: 0.2) }
            fail(&client, text)
        }
    }
}
