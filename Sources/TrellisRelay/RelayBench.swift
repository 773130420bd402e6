import Foundation
import HummingbirdWSClient
import Logging
import TrellisPQ
import TrellisStore

/// `trellis bench relay`: delivery latency through a real relay to many WebSocket
/// subscribers of one run. Starts a relay in-process on 127.0.0.1, opens `subscribers`
/// sockets subscribed to a queued run, then lets `runNodes` echo nodes run (the caller
/// supplies the scheduler through `drive`), and measures, for every live event at every
/// subscriber, the time from the event's commit timestamp to its arrival.
public struct RelayBench: Sendable {
    public var databaseURL: String
    public var subscribers = 1000
    public var runNodes = 20

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    public struct Report: Sendable {
        public var subscribers: Int
        public var eventsPerSubscriber: Int
        public var delivered: Int
        public var failedClients: Int
        public var liveSamples: Int
        public var p50: Double
        public var p99: Double
        public var max: Double
        public var seconds: Double
    }

    actor Tally {
        var ready = 0
        var done: Set<Int> = []
        var failed = 0
        var lags: [Double] = []
        var delivered = 0
        var ended: Int { done.count }
        func subscribed() { ready += 1 }
        func finished(_ index: Int, _ samples: [Double], events: Int) {
            guard done.insert(index).inserted else { return }
            lags += samples
            delivered += events
        }
        /// A client that could not connect or broke off counts as ended (and failed).
        func gaveUp(_ index: Int) {
            if done.insert(index).inserted { failed += 1; ready += 1 }
        }
    }

    /// `drive` runs the workflow's nodes (start a scheduler) and returns when asked to stop.
    public func run(log: @Sendable (String) -> Void = { _ in },
                    drive: @escaping @Sendable (_ until: @escaping @Sendable () async -> Bool) async throws -> Void) async throws -> Report {
        Self.raiseOpenFileLimit(to: UInt64(subscribers * 3 + 256))
        let name = "bench-relay-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let (token, run) = try await PGConnection.withConnection(databaseURL) { conn in
            let keys = (0..<runNodes).map { "n\($0)" }
            let nodes = keys.map { #"{"key": "\#($0)", "kind": "tool_call", "handler": "echo"}"# }.joined(separator: ", ")
            let edges = zip(keys, keys.dropFirst()).map { #"{"from": "\#($0)", "to": "\#($1)"}"# }.joined(separator: ", ")
            _ = try await WorkflowStore(connection: conn).publish(
                definition: #"{"name": "\#(name)", "nodes": [\#(nodes)], "edges": [\#(edges)]}"#, as: "admin")
            let token = try await TokenStore(connection: conn).create(for: "admin", description: "bench relay", as: "admin").token
            return (token, try await RunStore(connection: conn).start(name, as: "admin").runID)
        }
        var options = Relay.Options()
        options.port = 0
        options.handleSignals = false
        options.logLevel = .critical
        options.poolSize = 16
        let relay = Relay(databaseURL: databaseURL, options: options)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = Task { try await relay.run { continuation.yield($0) } }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw RelayError(.internalServerError, "bench", "the relay did not start") }

        log("\(subscribers) WebSocket subscribers on one run of \(runNodes) nodes")
        let tally = Tally()
        let clients = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<subscribers {
                    group.addTask { await Self.subscriber(index, port: port, token: token, run: run, tally: tally) }
                }
            }
        }
        while await tally.ready < subscribers {
            try await Task.sleep(for: .milliseconds(50))
            if clients.isCancelled { break }
        }
        log("all subscribed; running the workflow")
        let start = ContinuousClock.now
        try await drive { await tally.ended >= subscribers }
        await clients.value
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
        let lags = await tally.lags.sorted()
        let delivered = await tally.delivered
        let failed = await tally.failed
        func percentile(_ p: Double) -> Double {
            lags.isEmpty ? .nan : lags[Swift.min(lags.count - 1, Int((Double(lags.count) * p).rounded(.up)) - 1)]
        }
        return Report(subscribers: subscribers, eventsPerSubscriber: delivered / Swift.max(1, subscribers), delivered: delivered,
                      failedClients: failed, liveSamples: lags.count, p50: percentile(0.5), p99: percentile(0.99), max: lags.last ?? .nan, seconds: seconds)
    }

    static func subscriber(_ index: Int, port: Int, token: String, run: UUID, tally: Tally) async {
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders[.authorization] = "Bearer \(token)"
        var logger = Logger(label: "bench-relay")
        logger.logLevel = .critical
        let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        do {
        _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/v1/ws", configuration: configuration, logger: logger) {
            inbound, outbound, _ in
            var lags: [Double] = []
            var events = 0
            try await outbound.write(.text(#"{"op": "subscribe", "run_id": "\#(run.uuidString.lowercased())"}"#))
            for try await frame in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = frame else { continue }
                let now = Date()
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
                if object["type"] as? String == "ack" { await tally.subscribed() }
                if object["type"] as? String == "end" { break }
                guard object["seq"] != nil else { continue }
                events += 1
                if object["replayed"] == nil, let ts = object["ts"] as? String, let sent = try? formatter.parse(ts) {
                    lags.append(now.timeIntervalSince(sent) * 1000)
                }
            }
            await tally.finished(index, lags, events: events)
            try await outbound.close(.normalClosure, reason: nil)
        }
        } catch {}
        await tally.gaveUp(index)
    }

    static func raiseOpenFileLimit(to wanted: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = Swift.min(Swift.max(limit.rlim_cur, rlim_t(wanted)), limit.rlim_max)
        limit.rlim_cur = target
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
