import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

/// `trellis bench`: measures, in one run against one database, the single-row commit
/// rate (the baseline), no-op fan-out throughput with in-process schedulers, and
/// ready → running pickup latency with an idle scheduler woken by NOTIFY.
public struct Bench: Sendable {
    public var databaseURL: String
    public var runs = 200
    public var width = 16
    public var schedulers = 2
    public var concurrency = 128
    public var batch = 128
    public var commits = 2000
    public var pickups = 200

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    public struct Report: Sendable {
        public var fsync: String
        public var synchronousCommit: String
        public var serverVersion: String
        /// The baseline: the mean of the rates measured before and after the throughput
        /// test (a disk's commit rate drifts by tens of percent within minutes).
        public var commitsPerSecond: Double { (commitsBefore + commitsAfter) / 2 }
        public var commitsBefore: Double
        public var commitsAfter: Double
        public var nodes: Int
        public var throughputSeconds: Double
        public var nodesPerSecond: Double { Double(nodes) / throughputSeconds }
        public var pickupP50: Double
        public var pickupP99: Double
        public var pickupSamples: Int
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        try await PGConnection.withConnection(databaseURL) { conn in
            let settings = try await conn.run(Query.Bench.settings).single()
            log("baseline: \(commits) single-row commits, half before and half after the throughput test")
            let commitsBefore = try await commitRate(conn, count: max(1, commits / 2))

            // Throughput: start every run first, then let the schedulers drain them.
            let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let fanout = "bench-fanout-\(suffix)"
            _ = try await WorkflowStore(connection: conn).publish(definition: Self.fanOut(name: fanout, width: width), as: "admin")
            log("throughput: \(runs) runs × \(width + 1) no-op nodes, \(schedulers) scheduler(s), concurrency \(concurrency), batch \(batch)")
            let started = try await conn.run(Query.Bench.startRuns, [fanout, runs]).single().decode("started", as: Int.self)
            guard started == runs else { throw StoreError(code: .invalidInput, message: "bench: started \(started) of \(runs) runs") }
            let throughputStart = ContinuousClock.now
            try await withSchedulers(count: schedulers) {
                while try await conn.run(Query.Bench.openRuns, [fanout]).single().decode("open", as: Int.self) > 0 {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let throughputSeconds = BenchFigures.seconds(ContinuousClock.now - throughputStart)
            // Count what really ran, not what was asked for.
            let nodesRun = try await conn.run(Query.Bench.finishedNodes, [fanout]).single().decode("nodes", as: Int.self)
            let commitsAfter = try await commitRate(conn, count: max(1, commits - commits / 2))

            // Pickup latency: one idle scheduler, one single-node run at a time.
            let single = "bench-pickup-\(suffix)"
            _ = try await WorkflowStore(connection: conn).publish(
                definition: #"{"name": "\#(single)", "nodes": [{"key": "noop", "kind": "tool_call", "handler": "echo"}]}"#, as: "admin")
            log("pickup latency: \(pickups) runs, one at a time, idle scheduler")
            try await withSchedulers(count: 1) {
                try await Task.sleep(for: .milliseconds(300))  // let it register and LISTEN
                for _ in 0..<pickups {
                    let started = try await conn.run(Query.Bench.startRuns, [single, 1]).single().decode("started", as: Int.self)
                    guard started == 1 else { throw StoreError(code: .invalidInput, message: "bench: could not start a pickup run") }
                    while try await conn.run(Query.Bench.openRuns, [single]).single().decode("open", as: Int.self) > 0 {
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }
            }
            let latencies = try await conn.run(Query.Bench.pickupLatency, [single]).rows.map { try $0.decode("ms", as: Double.self) }
            return Report(
                fsync: try settings.decode("fsync"), synchronousCommit: try settings.decode("synchronous_commit"),
                serverVersion: try settings.decode("version"), commitsBefore: commitsBefore, commitsAfter: commitsAfter,
                nodes: nodesRun, throughputSeconds: throughputSeconds,
                pickupP50: BenchFigures.percentile(latencies, 0.50), pickupP99: BenchFigures.percentile(latencies, 0.99), pickupSamples: latencies.count)
        }
    }

    /// Single-row commits per second on a real, logged table of its own.
    private func commitRate(_ conn: PGConnection, count: Int) async throws -> Double {
        try await conn.execute(script: SQLCatalogue.embedded.query(Query.Bench.setup))
        let start = ContinuousClock.now
        for i in 0..<count { try await conn.run(Query.Bench.commitRow, [i]) }
        let seconds = BenchFigures.seconds(ContinuousClock.now - start)
        try await conn.execute(script: SQLCatalogue.embedded.query(Query.Bench.teardown))
        return Double(count) / seconds
    }

    /// Runs `count` in-process schedulers (echo only) while `body` runs, then stops them.
    private func withSchedulers(count: Int, _ body: () async throws -> Void) async throws {
        var running: [(Scheduler, Task<SchedulerSummary, any Error>)] = []
        for index in 0..<count {
            var options = SchedulerOptions(name: "bench-\(index)")
            options.handlers = ["echo"]
            options.concurrency = concurrency
            options.batch = batch
            options.pollInterval = .milliseconds(200)
            let scheduler = Scheduler(databaseURL: databaseURL, registry: .builtIn, options: options)
            running.append((scheduler, Task { try await scheduler.run() }))
        }
        do {
            try await body()
        } catch {
            running.forEach { $0.0.requestStop() }
            throw error
        }
        for (scheduler, task) in running {
            scheduler.requestStop()
            _ = try await task.value
        }
    }

    static func fanOut(name: String, width: Int) -> String {
        let leaves = (0..<width).map { #"{"key": "leaf\#($0)", "kind": "tool_call", "handler": "echo"}"# }
        let edges = (0..<width).map { #"{"from": "root", "to": "leaf\#($0)"}"# }
        return #"{"name": "\#(name)", "nodes": [{"key": "root", "kind": "tool_call", "handler": "echo"}, \#(leaves.joined(separator: ", "))], "edges": [\#(edges.joined(separator: ", "))]}"#
    }

}
