import Foundation
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisStore

/// `trellis bench relay`: delivery latency through a real relay to many WebSocket
/// subscribers of one run. Starts a relay in-process on 127.0.0.1, opens `subscribers`
/// sockets (``BenchSubscribers``) subscribed to a queued run, then lets a chain of
/// `runNodes` echo or sleep nodes run (the caller supplies the scheduler through `drive`),
/// and measures, for every live event at every subscriber, the time from the event's
/// `ts` (the database time of the transaction that wrote it) to its arrival.
public struct RelayBench: Sendable {
    public var databaseURL: String
    public var subscribers = 1000
    public var runNodes = 20
    /// 0: echo nodes (events as fast as the scheduler makes them); otherwise sleep nodes of
    /// this many milliseconds, which paces the run's events.
    public var nodeMilliseconds = 0

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
        /// From the first client's connect to the last one's subscription acknowledged:
        /// a reconnect storm's cost (each subscription authenticates and checks access).
        public var subscribeSeconds: Double
        /// The run's event rate (events over the span of their timestamps).
        public var eventsPerSecond: Double
    }

    /// `drive` runs the workflow's nodes (start a scheduler serving `echo` and `sleep`)
    /// and returns when asked to stop.
    public func run(log: @Sendable (String) -> Void = { _ in },
                    drive: @escaping @Sendable (_ until: @escaping @Sendable () async -> Bool) async throws -> Void) async throws -> Report {
        Self.raiseOpenFileLimit(to: UInt64(subscribers * 3 + 256))
        let name = "bench-relay-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let (token, run) = try await PGConnection.withConnection(databaseURL) { conn in
            let keys = (0..<runNodes).map { "n\($0)" }
            let node = nodeMilliseconds > 0 ? #""handler": "sleep", "config": {"ms": \#(nodeMilliseconds)}"# : #""handler": "echo""#
            let nodes = keys.map { #"{"key": "\#($0)", "kind": "tool_call", \#(node)}"# }.joined(separator: ", ")
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
        // Every bench client is the same principal: room for all of them.
        options.maxStreams = max(options.maxStreams, subscribers)
        options.maxStreamsPerPrincipal = max(options.maxStreamsPerPrincipal, subscribers)
        let (port, server) = try await Relay(databaseURL: databaseURL, options: options).start()
        defer { server.cancel() }

        log("\(subscribers) WebSocket subscribers on one run of \(runNodes) nodes")
        let clients = BenchSubscribers(count: subscribers, port: port, token: token, run: run)
        let subscribing = ContinuousClock.now
        clients.start()
        while clients.subscribed < subscribers {
            try await Task.sleep(for: .milliseconds(10))
        }
        let subscribeSeconds = BenchFigures.seconds(ContinuousClock.now - subscribing)
        log("all subscribed; running the workflow")
        let start = ContinuousClock.now
        try await drive { clients.ended >= subscribers }
        let results = await clients.wait()
        let seconds = BenchFigures.seconds(ContinuousClock.now - start)

        // Lags from the log's timestamps, after the fact: nothing but a read per frame
        // happens on the clients' side while events flow.
        var stamps: [Int64: Double] = [:]
        try await PGConnection.withConnection(databaseURL) { conn in
            for event in try await RunStore(connection: conn).events(of: run) {
                stamps[event.seq] = event.timestamp.timeIntervalSince1970
            }
        }
        var lags: [Double] = []
        lags.reserveCapacity(results.reduce(0) { $0 + $1.arrivals.count })
        for result in results {
            for arrival in result.arrivals { if let ts = stamps[arrival.seq] { lags.append((arrival.at - ts) * 1000) } }
        }
        lags.sort()
        let delivered = results.reduce(0) { $0 + $1.events }
        let failed = results.filter { !$0.complete || $0.events != stamps.count }
        if let first = failed.first { log("\(failed.count) clients failed; first: \(first.error ?? "missed events (\(first.events) of \(stamps.count))")") }
        // The rate over the events that were live (the run was created before anyone subscribed).
        let live = Set(results.flatMap { $0.arrivals.map(\.seq) }).compactMap { stamps[$0] }
        let span = (live.max() ?? 0) - (live.min() ?? 0)
        return Report(subscribers: subscribers, eventsPerSubscriber: stamps.count, delivered: delivered,
                      failedClients: failed.count, liveSamples: lags.count, p50: BenchFigures.percentile(lags, 0.5), p99: BenchFigures.percentile(lags, 0.99),
                      max: lags.last ?? .nan, seconds: seconds, subscribeSeconds: subscribeSeconds,
                      eventsPerSecond: span > 0 ? Double(live.count - 1) / span : .nan)
    }

    static func raiseOpenFileLimit(to wanted: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = Swift.min(Swift.max(limit.rlim_cur, rlim_t(wanted)), limit.rlim_max)
        limit.rlim_cur = target
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
