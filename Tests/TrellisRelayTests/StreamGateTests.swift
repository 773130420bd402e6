import Foundation
import Hummingbird
import Testing
import TrellisStore
import TrellisTestSupport
@testable import TrellisBench
@testable import TrellisRelay

/// The relay's cap on open streams gives every slot back — also the slot of an SSE
/// response whose body never runs (Hummingbird skips the body when the head cannot be
/// written, a client that left first), which once kept its slot until the relay restarted.
@Suite("Stream gate")
struct StreamGateTests {
    @Test func aSlotComesBackWhenItsResponseIsDroppedUnwritten() throws {
        let gate = StreamGate(limit: 1)
        do {
            let response = try gate.eventStream(for: "admin") { writer in try await writer.finish(nil) }
            let full = #expect(throws: RelayError.self) { _ = try gate.enter("someone") }
            #expect(full?.code == "too_many_connections")
            #expect(response.status == .ok && response.headers[.contentType] == "text/event-stream" && gate.count == 1)
        }
        #expect(gate.count == 0, "the dropped response's slot is free again")
        let again = try gate.enter("admin")
        again.release()
        again.release()
        #expect(gate.count == 0, "a slot released twice is given back once")
    }

    @Test func onePrincipalHoldsItsCapAndTheRelayStaysOpenToOthers() throws {
        let gate = StreamGate(limit: 3, perPrincipal: 2)
        let first = try gate.enter("greedy"), second = try gate.enter("greedy")
        let refused = #expect(throws: RelayError.self) { _ = try gate.enter("greedy") }
        #expect(refused?.code == "too_many_streams" && refused?.status == .tooManyRequests)
        #expect(refused?.message.contains("principal greedy holds 2 open streams") == true, "\(refused?.message ?? "")")
        let other = try gate.enter("someone")
        // The relay is full now: a third principal gets 503, and that refusal holds nothing of its.
        let full = #expect(throws: RelayError.self) { _ = try gate.enter("late") }
        #expect(full?.code == "too_many_connections" && gate.count(of: "late") == 0 && gate.count == 3)
        first.release()
        let again = try gate.enter("greedy")
        for slot in [second, other, again] { slot.release() }
        #expect(gate.count == 0 && gate.count(of: "greedy") == 0 && gate.count(of: "someone") == 0)
    }

    /// Through a real relay: a principal at its cap is refused its next SSE stream (429 and a
    /// JSON error naming it) and its next WebSocket (an error frame), another principal is
    /// served meanwhile, and once the held stream ends the first may stream again.
    @Test func aPrincipalPastItsStreamCapGets429WhileOthersAreServed() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.seedWithViewer("watcher")
            try await RelayHarness.with(db.url, configure: { $0.maxStreams = 10; $0.maxStreamsPerPrincipal = 1 }) { relay in
                let (token, run) = try await relay.startFanOut()  // queued: its streams stay open
                @Sendable func request(_ token: String) -> String {
                    "GET /v1/runs/\(run)/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n"
                }
                let held = try LoopbackSocket.connect(port: relay.port)
                var closed = false
                defer { if !closed { close(held) } }
                try LoopbackSocket.sendAll(held, Array(request(token).utf8))
                try await relay.waitForClients(1)

                // Bounded reads: a relay that let these streams in would otherwise keep them
                // open (heartbeats) and the test would wait for ever instead of failing.
                let refused = try await RawTCP.exchange(seconds: 15, until: { $0.contains("too_many_streams") || $0.contains("text/event-stream") }) {
                    try RawTCP.sending(port: relay.port, request(token))
                }
                #expect(refused.hasPrefix("HTTP/1.1 429") && refused.contains("too_many_streams"), "\(refused)")
                #expect(refused.contains("principal admin holds 1 open streams"), "\(refused)")
                let frames = try await RawTCP.exchange(seconds: 15, until: { $0.contains("too_many_streams") }) {
                    try RawWebSocket.connect(port: relay.port, path: "/v1/ws", token: token)
                }
                #expect(frames.hasPrefix("HTTP/1.1 101") && frames.contains("too_many_streams"), "\(frames)")

                let watcher = try await relay.token(for: "watcher")
                let served = try await RawTCP.head(port: relay.port, request(watcher))
                #expect(served.hasPrefix("HTTP/1.1 200"), "\(served)")

                close(held)
                closed = true
                try await waitUntil(timeout: .seconds(30), "admin to be served again once its stream ended") {
                    try await RawTCP.head(port: relay.port, request(token)).hasPrefix("HTTP/1.1 200")
                }
            }
        }
    }

    /// Clients that send an SSE request and reset the connection before the answer: the
    /// relay (room for one stream) must still serve the next client that stays, not 503.
    @Test func clientsThatLeaveBeforeTheAnswerDoNotUseUpTheRelay() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url, configure: { $0.maxStreams = 1 }) { relay in
                let (token, run) = try await relay.startFanOut()  // queued: its stream stays open
                let request = "GET /v1/runs/\(run)/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n"
                for _ in 0..<5 { try RawTCP.sendAndReset(port: relay.port, request) }
                var last = ""
                do {
                    try await waitUntil(timeout: .seconds(30), "a stream answered with 200") {
                        last = try await RawTCP.head(port: relay.port, request)
                        return last.hasPrefix("HTTP/1.1 200")
                    }
                } catch {
                    Issue.record("the last answer: \(last)")
                    throw error
                }
            }
        }
    }

    /// A client that stays connected but stops reading (its receive window shut) must not
    /// hold its stream for good: with a send timeout of one second the kernel closes the
    /// connection once the relay's writes back up, the stream ends, and its slot is free.
    /// Over SSE and over a WebSocket (whose socket got the option before its upgrade).
    @Test(arguments: ["sse", "websocket"])
    func aClientThatStopsReadingIsCutOffAndItsSlotFreed(_ transport: String) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url, configure: { $0.maxStreams = 1; $0.sendTimeout = .seconds(1) }) { relay in
                let (token, run) = try await relay.startFanOut()  // queued: its stream stays open
                // 8 MB of log to replay, more than the kernel buffers between the two ends.
                try await db.withConnection { conn in
                    try await conn.query("""
                        INSERT INTO trellis.run_events (run_id, seq, type, data)
                        SELECT $1::uuid, r.last_seq + g, 'node.progress', jsonb_build_object('filler', repeat('x', 64000))
                        FROM trellis.workflow_runs r, generate_series(1, 128) g WHERE r.id = $1::uuid
                        """, [run])
                    try await conn.query("UPDATE trellis.workflow_runs SET last_seq = last_seq + 128 WHERE id = $1::uuid", [run])
                }
                let request = "GET /v1/runs/\(run)/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n"
                let stalled: Int32
                if transport == "sse" {
                    stalled = try LoopbackSocket.connect(port: relay.port, receiveBuffer: 4096)
                    try LoopbackSocket.sendAll(stalled, Array(request.utf8))  // and never read
                } else {
                    stalled = try RawWebSocket.connect(port: relay.port, path: "/v1/ws", token: token)
                    var size: Int32 = 4096
                    setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                    RawWebSocket.send(stalled, opcode: 1, Array(#"{"op": "subscribe", "run_id": "\#(run)"}"#.utf8))  // and never read
                }
                defer { close(stalled) }
                try await relay.waitForClients(1)
                try await waitUntil(timeout: .seconds(60), "the stalled stream to be closed") {
                    try await RawTCP.head(port: relay.port, request).hasPrefix("HTTP/1.1 200")
                }
            }
        }
    }
}

/// Requests no HTTP client makes: one reset right after it is sent, and one whose response
/// head alone is read.
enum RawTCP {
    /// Sends `request`, then closes with a reset (SO_LINGER 0) at once.
    static func sendAndReset(port: Int, _ request: String) throws {
        let fd = try LoopbackSocket.connect(port: port)
        defer { close(fd) }
        try LoopbackSocket.sendAll(fd, Array(request.utf8))
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Opens a socket with `open` (which may send a request on it) and reads what comes back
    /// until `enough` says so, the peer closes, or `seconds` pass, then closes — on a thread of
    /// its own, and bounded: an answer other than the one awaited (a stream that stays open)
    /// fails the test rather than hanging it.
    static func exchange(seconds: Int, until enough: @escaping @Sendable (String) -> Bool,
                         _ open: @escaping @Sendable () throws -> Int32) async throws -> String {
        try await withCheckedThrowingContinuation { answer in
            Thread.detachNewThread {
                answer.resume(with: Result {
                    let fd = try open()
                    defer { close(fd) }
                    var slice = timeval(tv_sec: 1, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice, socklen_t(MemoryLayout<timeval>.size))
                    let deadline = Date().addingTimeInterval(Double(seconds))
                    var received: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while Date() < deadline && !enough(String(decoding: received, as: UTF8.self)) {
                        let n = recv(fd, &buffer, buffer.count, 0)
                        if n > 0 { received += buffer[0..<n] } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { break }
                    }
                    return String(decoding: received, as: UTF8.self)
                })
            }
        }
    }

    /// Sends `request` and returns the response head (up to the blank line; whatever came
    /// within 10 s), then closes.
    static func head(port: Int, _ request: String) async throws -> String {
        try await exchange(seconds: 10, until: { $0.contains("\r\n\r\n") }) { try sending(port: port, request) }
    }

    /// A socket to the relay with `request` sent on it (closed again if the send fails).
    static func sending(port: Int, _ request: String) throws -> Int32 {
        let fd = try LoopbackSocket.connect(port: port)
        do { try LoopbackSocket.sendAll(fd, Array(request.utf8)) } catch { close(fd); throw error }
        return fd
    }
}
