import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdWSClient
import Logging
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// A real relay on 127.0.0.1 (any free port) over a test database, with helpers for
/// HTTP (URLSession) and WebSocket (HummingbirdWSClient) clients, each bounded by a deadline.
struct RelayHarness: Sendable {
    let databaseURL: String
    let port: Int
    let task: Task<Void, any Error>

    var base: String { "http://127.0.0.1:\(port)" }

    static func start(_ databaseURL: String, configure: (inout Relay.Options) -> Void = { _ in }) async throws -> RelayHarness {
        var options = Relay.Options()
        options.port = 0
        options.handleSignals = false
        options.logLevel = .critical
        options.heartbeat = .milliseconds(500)
        options.safetyPoll = .milliseconds(500)
        configure(&options)
        let (port, task) = try await Relay(databaseURL: databaseURL, options: options).start()
        return RelayHarness(databaseURL: databaseURL, port: port, task: task)
    }

    /// Runs `body` with a relay and stops it afterwards.
    static func with<T: Sendable>(_ databaseURL: String, configure: (inout Relay.Options) -> Void = { _ in },
                                  _ body: (RelayHarness) async throws -> T) async throws -> T {
        let harness = try await start(databaseURL, configure: configure)
        do {
            let value = try await body(harness)
            harness.task.cancel()
            _ = await harness.task.result
            return value
        } catch {
            harness.task.cancel()
            _ = await harness.task.result
            throw error
        }
    }

    /// Waits until the relay counts `count` connected stream clients (its
    /// `trellis_relay_clients` gauge): the stream is open and subscribed.
    func waitForClients(_ count: Int) async throws {
        try await waitUntil(timeout: .seconds(30), "\(count) stream client(s) connected") {
            let metrics = try await request("GET", "/metrics", token: nil).body
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("trellis_relay_clients ") }
            return (line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0) >= Double(count)
        }
    }

    /// Runs an in-process scheduler (built-in handlers) while `body` runs.
    static func withScheduler<T: Sendable>(_ url: String, _ body: () async throws -> T) async throws -> T {
        var options = SchedulerOptions(name: "relay-test")
        options.pollInterval = .milliseconds(50)
        let scheduler = Scheduler(databaseURL: url, registry: .builtIn, options: options)
        let task = Task { try await scheduler.run() }
        do {
            let value = try await body()
            scheduler.requestStop()
            _ = try await task.value
            return value
        } catch {
            scheduler.requestStop()
            _ = try? await task.value
            throw error
        }
    }

    /// A token for `principal` (created by the built-in admin).
    func token(for principal: String) async throws -> String {
        try await PGConnection.withConnection(databaseURL) { try await TokenStore(connection: $0).create(for: principal, as: "admin").token }
    }

    /// An admin token and a run of the seeded fan-out workflow started over HTTP (queued
    /// until a scheduler runs it).
    func startFanOut() async throws -> (token: String, run: String) {
        let token = try await token(for: "admin")
        let started = try await request("POST", "/v1/workflows/fan-out-fan-in/runs", token: token, body: #"{"input": {"topic": "t"}}"#)
        return (token, try #require(try started.json()["run_id"]?.stringValue))
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String

        func json() throws -> [String: JSONValue] {
            try JSONDecoder().decode([String: JSONValue].self, from: Data(body.utf8))
        }

        var errorCode: String? { try? json()["error"]?["code"]?.stringValue }
    }

    /// One HTTP exchange, bounded as a whole: URLSession's `timeoutInterval` is an idle
    /// timeout, which a stream with heartbeats never reaches.
    func request(_ method: String, _ path: String, token: String?, body: String? = nil,
                 headers: [String: String] = [:]) async throws -> Reply {
        let url = URL(string: base + path)!
        return try await withDeadline(.seconds(120), "\(method) \(path)") {
            var request = URLRequest(url: url)
            request.httpMethod = method
            request.timeoutInterval = 60
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            if let body {
                request.httpBody = Data(body.utf8)
                if headers["Content-Type"] == nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            var fields: [String: String] = [:]
            for (key, value) in http.allHeaderFields { fields["\(key)".lowercased()] = "\(value)" }
            return Reply(status: http.statusCode, headers: fields, body: String(decoding: data, as: UTF8.self))
        }
    }

    /// The events of a finished SSE stream, parsed (id, event type, envelope).
    static func sse(_ body: String) throws -> [(id: Int64?, event: String, data: [String: JSONValue])] {
        try body.components(separatedBy: "\n\n").compactMap { block -> (Int64?, String, [String: JSONValue])? in
            var id: Int64?, event: String?, data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            guard let event, let data else { return nil }
            return (id, event, try JSONDecoder().decode([String: JSONValue].self, from: Data(data.utf8)))
        }
    }

    /// A WebSocket session: sends `messages`, then collects text messages until `until`
    /// says stop; `pause` between reads makes a slow client.
    func webSocket(token: String?, send messages: [String], pause: Duration = .zero,
                   until: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        try await webSocket(token: token, send: messages, pause: pause, afterFirst: nil, then: [], until: until)
    }

    /// A WebSocket session in two acts: sends `messages`, waits for the first reply, runs
    /// `between` (say, revoking the token), sends `then`, and collects until `until`.
    func webSocket(token: String?, send messages: [String], revokeAfterFirst between: @escaping @Sendable () async throws -> Void,
                   then more: [String], until: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        try await webSocket(token: token, send: messages, pause: .zero, afterFirst: between, then: more, until: until)
    }

    /// Bounded as a whole, like `request`: a reply that never satisfies `until` on a socket
    /// the relay keeps open would otherwise wait for ever.
    private func webSocket(token: String?, send messages: [String], pause: Duration,
                           afterFirst between: (@Sendable () async throws -> Void)?, then more: [String],
                           until: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        let port = self.port
        return try await withDeadline(.seconds(120), "a WebSocket session sending \(messages)") {
            try await Self.webSocket(port: port, token: token, send: messages, pause: pause, afterFirst: between, then: more, until: until)
        }
    }

    private static func webSocket(port: Int, token: String?, send messages: [String], pause: Duration,
                                  afterFirst between: (@Sendable () async throws -> Void)?, then more: [String],
                                  until: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        let collected = Collected()
        var configuration = WebSocketClientConfiguration()
        if let token { configuration.additionalHeaders[.authorization] = "Bearer \(token)" }
        var logger = Logger(label: "ws-test")
        logger.logLevel = .critical
        try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/v1/ws", configuration: configuration, logger: logger) { inbound, outbound, _ in
            for message in messages { try await outbound.write(.text(message)) }
            var between = between
            for try await frame in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = frame else { continue }
                let all = await collected.append(text)
                if until(all) { break }
                if let act = between {
                    between = nil
                    try await act()
                    for message in more { try await outbound.write(.text(message)) }
                }
                if pause > .zero { try await Task.sleep(for: pause) }
            }
            // The relay may have closed the socket first (a revoked token).
            try? await outbound.close(.normalClosure, reason: nil)
        }
        return await collected.items
    }

    /// A token for `principal` and its prefix (what `trellis token revoke` takes).
    func tokenWithPrefix(for principal: String) async throws -> (token: String, prefix: String) {
        try await PGConnection.withConnection(databaseURL) {
            let made = try await TokenStore(connection: $0).create(for: principal, as: "admin")
            return (made.token, made.prefix)
        }
    }

    actor Collected {
        var items: [String] = []
        func append(_ item: String) -> [String] {
            items.append(item)
            return items
        }
    }
}

/// A set of client indices shared by concurrent clients (who has subscribed).
final class Indices: Sendable {
    private let members = Mutex(Set<Int>())
    func insert(_ index: Int) { _ = members.withLock { $0.insert(index) } }
    var count: Int { members.withLock { $0.count } }
}

/// Failures reported by concurrent clients, so a waiter can stop at the first one.
final class Failures: Sendable {
    private let items = Mutex([String]())
    func record(_ failure: String) { items.withLock { $0.append(failure) } }
    var all: [String] { items.withLock { $0 } }
}

struct RelayTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Parses WebSocket text messages.
func decode(_ message: String) throws -> [String: JSONValue] {
    try JSONDecoder().decode([String: JSONValue].self, from: Data(message.utf8))
}

extension Array where Element == String {
    /// The event envelopes (messages with a seq) among WebSocket messages.
    func envelopes() throws -> [[String: JSONValue]] {
        try map(decode).filter { $0["seq"] != nil }
    }
}

extension TestDatabase {
    /// The seeded workflows and templates, and `viewer`, a principal with `view` on
    /// fan-out-fan-in and nothing else.
    func seedWithViewer(_ viewer: String) async throws {
        try await withConnection { conn in
            _ = try await Seeder(connection: conn).load(as: "admin")
            _ = try await PrincipalStore(connection: conn).create(viewer, as: "admin")
            _ = try await PrincipalStore(connection: conn).grant("view", on: "fan-out-fan-in", to: viewer, as: "admin")
        }
    }
}
