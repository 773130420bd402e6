import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

/// The shapes `trellis bench` measures, each the way its users run it.
public enum BenchWorkload: String, CaseIterable, Sendable {
    /// Many one-node runs, all enqueued first, drained by the schedulers (a job queue).
    case flat
    /// root → 8 parallel → merge: a burst of runs submitted at once, then one run at a time.
    case dag
    /// Enqueue rate: set-based, one statement over start_run, and one call per run.
    case start
    /// Enqueue call → node start into idle schedulers, one run at a time.
    case pickup
    /// A few runs with many leaves each: no-op fan-out within a run.
    case fanout
}

/// `trellis bench`: measures, in one run against one database, the commit rate of the
/// disk (the baseline every throughput is divided by, taken before and after) and the
/// workloads asked for, with schedulers as separate `trellis scheduler` processes. Every
/// figure comes from the database's own timestamps; every workload that ran nodes is
/// checked for exactly-once afterwards. Point it at a scratch database.
public struct EngineBench: Sendable {
    public var databaseURL: String
    /// The `trellis` executable that runs the scheduler processes.
    public var trellis: String
    public var schedulers = 1
    /// Extra `trellis scheduler` flags (say `--concurrency 128`); none: the stock defaults.
    public var schedulerFlags: [String] = []
    /// The lanes each scheduler process registers (`trellis scheduler --lanes`, capped by
    /// its concurrency): the bench starts measuring once all of them are registered.
    public var lanesPerScheduler = 1
    public var flatRuns = 20_000
    public var dagRuns = 200
    public var serialRuns = 50
    public var startRuns = 20_000
    public var singleStarts = 2_000
    public var pickups = 200
    public var fanoutRuns = 200
    public var width = 16
    /// fanout: leaves of one more run drained alone afterwards (0: none) — issue 12's own
    /// shape, a fan-out within one run, whose batches take turns on the run's row.
    public var oneRunWidth = 999
    /// Finished node runs to pre-load into the history tables first.
    public var history = 0
    public var commitClients = 8
    public var commitsPerClient = 400
    /// Commits of the one-client baseline (each waits for its own flush).
    public var oneClientCommits = 200

    public init(databaseURL: String, trellis: String) {
        self.databaseURL = databaseURL
        self.trellis = trellis
    }

    public func run(_ workloads: [BenchWorkload], log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> BenchReport {
        let directory = FileManager.default.temporaryDirectory.appending(path: "trellis-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await PGConnection.withConnection(databaseURL) { conn in
            let settings = try await conn.bench(BenchQuery.settings).single()
            if history > 0 {
                log("history: pre-loading about \(history) finished node runs")
                _ = try await HistoryBench.generate(conn, nodeRuns: history)
                // A system that has carried this history for a while has vacuumed and analysed
                // it; without this, autovacuum of 4 million fresh rows runs during the workloads.
                log("history: VACUUM ANALYZE")
                try await conn.execute(script: "VACUUM ANALYZE")
            }
            // A database in use holds workflows of many sizes, and PostgreSQL's plan choices
            // follow its statistics: with one wide workflow analysed, a start's statements were
            // once planned afresh on every call (one call per run 800 runs/s instead of 1,300),
            // which a bench on a database of small workflows never showed. So one is there,
            // never run, as the widest fan-out a user publishes.
            let context = Context(bench: self, conn: conn, directory: directory, log: log)
            log("setup: publishing a root → 999 fan-out that never runs, and analysing the definitions")
            _ = try await context.publish(.fanout, "-wide", width: 999)
            try await conn.bench(BenchQuery.analyzeDefinitions)
            log("commit rate: \(commitClients) clients × \(commitsPerClient) single-row commits, then 1 client × \(oneClientCommits) (before)")
            let before = try await commitRate(conn, clients: commitClients, commits: commitsPerClient)
            let oneBefore = try await commitRate(conn, clients: 1, commits: oneClientCommits)
            var results: [BenchReport.Workload] = []
            for workload in workloads {
                log("\(workload.rawValue): running")
                results.append(try await context.measure(workload))
            }
            log("commit rate: (after)")
            let after = try await commitRate(conn, clients: commitClients, commits: commitsPerClient)
            let oneAfter = try await commitRate(conn, clients: 1, commits: oneClientCommits)
            let rate = BenchReport.CommitRate(clients: commitClients, before: before, after: after,
                                              oneClientBefore: oneBefore, oneClientAfter: oneAfter)
            for index in results.indices {
                for position in results[index].figures.indices {
                    var figure = results[index].figures[position]
                    guard figure.value.isFinite else { continue }
                    if figure.unit.hasSuffix("/s") {
                        figure.ratioToCommitRate = figure.value / rate.mean
                        if figure.oneClient == true { figure.againstOneClientCommit = rate.oneClientMean.map { figure.value / $0 } }
                    } else if figure.unit == "ms", figure.oneClient == true {
                        figure.againstOneClientCommit = rate.oneClientLatency.map { figure.value / $0 }
                    }
                    results[index].figures[position] = figure
                }
            }
            return BenchReport(
                date: ISO8601DateFormatter().string(from: Date()), server: try settings.decode("version"),
                fsync: try settings.decode("fsync"), synchronousCommit: try settings.decode("synchronous_commit"),
                trellisVersion: TrellisVersion.current,
                schedulers: "\(schedulers) process(es), " + (schedulerFlags.isEmpty ? "stock flags" : schedulerFlags.joined(separator: " ")),
                history: history, commitRate: rate, workloads: results)
        }
    }

    /// Commits per second of `clients` concurrent clients, each inserting one row per
    /// transaction `commits` times into a logged table of its own. Timed from when every
    /// client is connected: on a fast disk the whole measurement takes a fraction of a
    /// second, and connection set-up counted in it would understate the rate.
    private func commitRate(_ conn: PGConnection, clients: Int, commits: Int) async throws -> Double {
        try await conn.execute(script: BenchQuery.catalogue.query(BenchQuery.setup))
        var connections: [PGConnection] = []
        func closeAll() async { for connection in connections { await connection.close() } }
        let start: ContinuousClock.Instant, end: ContinuousClock.Instant
        do {
            for _ in 0..<clients { connections.append(try await PGConnection.connect(databaseURL, applicationName: "trellis bench")) }
            start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (client, connection) in connections.enumerated() {
                    group.addTask {
                        for i in 0..<commits { try await connection.bench(BenchQuery.commitRow, [client * 1_000_000 + i]) }
                    }
                }
                try await group.waitForAll()
            }
            end = ContinuousClock.now
        } catch {
            await closeAll()
            throw error
        }
        await closeAll()
        let seconds = BenchFigures.seconds(end - start)
        try await conn.execute(script: BenchQuery.catalogue.query(BenchQuery.teardown))
        return Double(clients * commits) / seconds
    }

    static func definition(name: String, workload: BenchWorkload, width: Int) -> String {
        func node(_ key: String) -> String { #"{"key": "\#(key)", "kind": "tool_call", "handler": "echo"}"# }
        func edge(_ from: String, _ to: String) -> String { #"{"from": "\#(from)", "to": "\#(to)"}"# }
        switch workload {
        case .flat, .start, .pickup:
            return #"{"name": "\#(name)", "nodes": [\#(node("work"))]}"#
        case .dag:
            let leaves = (0..<8).map { "step\($0)" }
            let nodes = [node("root")] + leaves.map(node) + [node("merge")]
            let edges = leaves.map { edge("root", $0) } + leaves.map { edge($0, "merge") }
            return #"{"name": "\#(name)", "nodes": [\#(nodes.joined(separator: ", "))], "edges": [\#(edges.joined(separator: ", "))]}"#
        case .fanout:
            let leaves = (0..<width).map { "leaf\($0)" }
            return #"{"name": "\#(name)", "nodes": [\#(([node("root")] + leaves.map(node)).joined(separator: ", "))], "edges": [\#(leaves.map { edge("root", $0) }.joined(separator: ", "))]}"#
        }
    }
}

/// One bench run's connection and settings, shared by the workloads.
private struct Context {
    let bench: EngineBench
    let conn: PGConnection
    let directory: URL
    let log: @Sendable (String) -> Void

    func measure(_ workload: BenchWorkload) async throws -> BenchReport.Workload {
        switch workload {
        case .flat: try await flat()
        case .dag: try await dag()
        case .start: try await start()
        case .pickup: try await pickup()
        case .fanout: try await fanout()
        }
    }

    fileprivate func publish(_ workload: BenchWorkload, _ label: String = "", width: Int? = nil) async throws -> String {
        let name = "bench-\(workload.rawValue)\(label)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        _ = try await WorkflowStore(connection: conn)
            .publish(definition: EngineBench.definition(name: name, workload: workload, width: width ?? bench.width), as: "admin")
        return name
    }

    /// Enqueues `count` runs in one start_runs call.
    private func enqueue(_ workflow: String, count: Int) async throws {
        let started = try await conn.bench(BenchQuery.startRunsSet, [workflow, count]).single().decode("started", as: Int.self)
        guard started == count else { throw BenchError("started \(started) of \(count) runs of \(workflow)") }
    }

    /// Runs `body` while `bench.schedulers` scheduler processes (serving echo, with the
    /// flags under test) are registered; stops them with SIGTERM afterwards.
    private func withSchedulers<T>(_ body: () async throws -> T) async throws -> T {
        let fleet = Fleet(trellis: bench.trellis, directory: directory, databaseURL: bench.databaseURL,
                          namePrefix: "bench-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))",
                          schedulerArguments: ["--handlers", "echo"] + bench.schedulerFlags)
        do {
            let names = try (0..<bench.schedulers).map { try fleet.startScheduler($0) }
            try await waitUntilRegistered(names, fleet)
            let result = try await body()
            _ = await fleet.stopAll()
            return result
        } catch {
            _ = await fleet.stopAll()
            throw error
        }
    }

    private func waitUntilRegistered(_ names: [String], _ fleet: Fleet) async throws {
        for _ in 0..<600 {
            if try await conn.bench(BenchQuery.liveSchedulers, [names]).single().decode("live", as: Int.self) == names.count * bench.lanesPerScheduler { return }
            if let exited = fleet.unexpectedExits.first {
                throw BenchError("a bench scheduler exited at start-up: \(exited)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the bench schedulers did not register within 30 s: \(fleet.logTails)")
    }

    /// Polls four times a second: each poll counts the open runs (tens of thousands at the
    /// start of a drain), and at 50 polls a second the harness took a fifth of the machine
    /// from the system it measures. The figures come from the database's clock
    /// (nodeThroughput, runLatencies), so a coarser poll costs no precision.
    private func waitUntilDrained(_ workflow: String) async throws {
        while try await conn.bench(BenchQuery.openRuns, [workflow]).single().decode("open", as: Int.self) > 0 {
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Starts one run at a time and waits (on the event doorbell) for each to finish.
    private func oneAtATime(_ workflow: String, count: Int, pause: Duration) async throws {
        // Started from a client's session of its own (see `start`: the bench's session has
        // made starts of thousands of runs, which sway PostgreSQL's plan choices).
        try await PGConnection.withConnection(bench.databaseURL) { client in
            try await PGConnection.withConnection(bench.databaseURL) { listener in
                try await listener.listen("trellis_events")
                for index in 0..<count {
                    let run: UUID = try await client.benchPrepared(BenchQuery.startOne, [workflow, #"{"i": \#(index)}"#]).single().decode("run_id")
                    let prefix = run.uuidString.lowercased()
                    let deadline = ContinuousClock.now + .seconds(30)
                    while try await !conn.benchPrepared(BenchQuery.runFinished, [run]).single().decode("finished", as: Bool.self) {
                        guard ContinuousClock.now < deadline else { throw BenchError("run \(run) of \(workflow) did not finish within 30 s") }
                        while let note = try await listener.nextNotification(timeout: .milliseconds(200)), !note.payload.hasPrefix(prefix) {}
                    }
                    try await Task.sleep(for: pause)
                }
            }
        }
    }

    /// WAL written while `body` runs, in bytes: the write volume behind a workload's nodes
    /// (index entries, event rows, row versions), a figure that does not move with the
    /// disk's speed the way throughput does.
    private func walWritten(_ body: () async throws -> Void) async throws -> Double {
        func position() async throws -> Double {
            try await conn.bench(BenchQuery.walPosition).single().decode("bytes", as: Double.self)
        }
        let before = try await position()
        try await body()
        return try await position() - before
    }

    private static func walPerNode(_ bytes: Double, nodes: Int) -> BenchReport.Figure {
        .init(label: "WAL per node, start to finish", value: bytes / Double(max(nodes, 1)), unit: "bytes")
    }

    private func nodeThroughput(_ workflow: String) async throws -> (nodes: Int, perSecond: Double) {
        let row = try await conn.bench(BenchQuery.nodeSpan, [workflow]).single()
        let nodes: Int = try row.decode("nodes"), seconds: Double = try row.decode("seconds")
        return (nodes, Double(nodes) / seconds)
    }

    private func runLatencies(_ workflow: String) async throws -> [Double] {
        try await conn.bench(BenchQuery.runLatency, [workflow]).rows.map { try $0.decode("ms", as: Double.self) }
    }

    private func exactlyOnce(_ workflows: [String]) async throws -> BenchReport.ExactlyOnce {
        var total = BenchReport.ExactlyOnce(runs: 0, nodes: 0, runsNotSucceeded: 0, nodesNotSucceeded: 0, nodesNotOnce: 0, nodesWithoutOneEvent: 0)
        for workflow in workflows {
            let row = try await conn.bench(BenchQuery.exactlyOnce, [workflow]).single()
            total.runs += try row.decode("runs", as: Int.self)
            total.nodes += try row.decode("nodes", as: Int.self)
            total.runsNotSucceeded += try row.decode("runs_not_succeeded", as: Int.self)
            total.nodesNotSucceeded += try row.decode("nodes_not_succeeded", as: Int.self)
            total.nodesNotOnce += try row.decode("nodes_not_once", as: Int.self)
            total.nodesWithoutOneEvent += try row.decode("nodes_without_one_event", as: Int.self)
        }
        return total
    }

    private func flat() async throws -> BenchReport.Workload {
        try await drain(.flat, runs: bench.flatRuns, shape: "one-node runs")
    }

    /// Enqueues `runs` runs of the workload's workflow with no scheduler running, then
    /// starts the schedulers and measures how fast they drain it.
    private func drain(_ workload: BenchWorkload, runs: Int, shape: String, width: Int? = nil, label: String = "") async throws -> BenchReport.Workload {
        let workflow = try await publish(workload, label, width: width)
        let postmaster = ProcessCPU.postmaster(ofBackend: try await conn.backendPID())
        let serverBefore = postmaster.flatMap(ProcessCPU.serverSeconds), schedulersBefore = ProcessCPU.reapedChildrenSeconds()
        let wal = try await walWritten {
            log("\(workload.rawValue): enqueuing \(runs) \(shape)")
            try await enqueue(workflow, count: runs)
            try await withSchedulers { try await waitUntilDrained(workflow) }
        }
        let serverAfter = postmaster.flatMap(ProcessCPU.serverSeconds), schedulersAfter = ProcessCPU.reapedChildrenSeconds()
        let (nodes, rate) = try await nodeThroughput(workflow)
        var figures: [BenchReport.Figure] = [.init(label: "drain", value: rate, unit: "nodes/s"), Self.walPerNode(wal, nodes: nodes)]
        // CPU per node: which side a node's cost is on, whatever the disk (absent when the
        // server is on another host). The database's includes the enqueue, as the WAL does.
        if let before = serverBefore, let after = serverAfter {
            figures.append(.init(label: "database CPU per node, start to finish", value: (after - before) * 1e6 / Double(max(nodes, 1)), unit: "µs"))
        }
        if let before = schedulersBefore, let after = schedulersAfter {
            figures.append(.init(label: "scheduler CPU per node", value: (after - before) * 1e6 / Double(max(nodes, 1)), unit: "µs"))
        }
        return .init(name: workload.rawValue, description: "\(runs) \(shape) enqueued first, then drained (\(nodes) nodes)",
                     figures: figures, exactlyOnce: try await exactlyOnce([workflow]))
    }

    private func dag() async throws -> BenchReport.Workload {
        let burst = try await publish(.dag, "-burst"), serial = try await publish(.dag, "-serial")
        var wal = 0.0
        try await withSchedulers {
            log("dag: \(bench.dagRuns) runs of root → 8 → merge submitted at once")
            wal = try await walWritten {
                try await enqueue(burst, count: bench.dagRuns)
                try await waitUntilDrained(burst)
            }
            log("dag: \(bench.serialRuns) runs one at a time")
            try await oneAtATime(serial, count: bench.serialRuns, pause: .milliseconds(5))
        }
        let (burstNodes, rate) = try await nodeThroughput(burst)
        let burstLatency = try await runLatencies(burst), serialLatency = try await runLatencies(serial)
        let settling: Double = try await conn.bench(BenchQuery.settlingTransactions, [serial]).single().decode("per_run")
        return .init(
            name: "dag", description: "root → 8 parallel → merge (10 echo nodes): \(bench.dagRuns) runs in a burst, then \(bench.serialRuns) one at a time",
            figures: [.init(label: "burst", value: rate, unit: "nodes/s"),
                      .init(label: "burst run p50", value: BenchFigures.percentile(burstLatency, 0.5), unit: "ms"),
                      .init(label: "burst run p99", value: BenchFigures.percentile(burstLatency, 0.99), unit: "ms"),
                      Self.walPerNode(wal, nodes: burstNodes),
                      .init(label: "one at a time p50", value: BenchFigures.percentile(serialLatency, 0.5), unit: "ms", oneClient: true),
                      .init(label: "one at a time p99", value: BenchFigures.percentile(serialLatency, 0.99), unit: "ms", oneClient: true),
                      .init(label: "one at a time: settling transactions (best 3)", value: settling, unit: "per run")],
            exactlyOnce: try await exactlyOnce([burst, serial]))
    }

    private func start() async throws -> BenchReport.Workload {
        let workflow = try await publish(.start)
        var figures: [BenchReport.Figure] = []
        func timed(_ label: String, count: Int, oneClient: Bool = false, _ body: () async throws -> Void) async throws {
            let started = ContinuousClock.now
            try await body()
            figures.append(.init(label: label, value: Double(count) / BenchFigures.seconds(ContinuousClock.now - started), unit: "runs/s",
                                 oneClient: oneClient ? true : nil))
            try await conn.bench(BenchQuery.discardRuns, [workflow])
        }
        log("start: \(bench.startRuns) runs through start_runs")
        try await timed("start_runs, one call", count: bench.startRuns) {
            try await enqueue(workflow, count: bench.startRuns)
        }
        log("start: \(bench.startRuns) runs through start_run over a series, one statement")
        try await timed("start_run × N, one statement", count: bench.startRuns) {
            _ = try await conn.bench(BenchQuery.startRuns, [workflow, bench.startRuns])
        }
        log("start: \(bench.singleStarts) runs, one call each, one client")
        // On a connection of its own, as a client's: the bench's own session has just made
        // two starts of thousands of runs, and PostgreSQL's choice between custom and generic
        // plans averages over a session's calls — on it, one call per run mostly hid a re-plan of two
        // statements per start that a client's session paid on every call.
        try await PGConnection.withConnection(bench.databaseURL) { client in
            try await timed("one call per run", count: bench.singleStarts, oneClient: true) {
                for index in 0..<bench.singleStarts {
                    _ = try await client.benchPrepared(BenchQuery.startOne, [workflow, #"{"i": \#(index)}"#])
                }
            }
        }
        return .init(name: "start", description: "enqueue rate, no scheduler running (the runs are discarded afterwards)",
                     figures: figures, exactlyOnce: nil)
    }

    private func pickup() async throws -> BenchReport.Workload {
        let workflow = try await publish(.pickup)
        try await withSchedulers {
            try await Task.sleep(for: .milliseconds(200))  // idle: LISTENing, waiting for a doorbell
            log("pickup: \(bench.pickups) one-node runs, one at a time")
            try await oneAtATime(workflow, count: bench.pickups, pause: .milliseconds(20))
        }
        let latencies = try await conn.bench(BenchQuery.pickupLatency, [workflow]).rows.map { try $0.decode("ms", as: Double.self) }
        return .init(name: "pickup", description: "enqueue call → node start into idle schedulers, \(latencies.count) samples",
                     figures: [.init(label: "p50", value: BenchFigures.percentile(latencies, 0.5), unit: "ms", oneClient: true),
                               .init(label: "p99", value: BenchFigures.percentile(latencies, 0.99), unit: "ms", oneClient: true)],
                     exactlyOnce: try await exactlyOnce([workflow]))
    }

    private func fanout() async throws -> BenchReport.Workload {
        var many = try await drain(.fanout, runs: bench.fanoutRuns, shape: "runs of root → \(bench.width) leaves")
        guard bench.oneRunWidth > 0 else { return many }
        log("fanout: one run of root → \(bench.oneRunWidth) leaves, alone")
        let one = try await drain(.fanout, runs: 1, shape: "run of root → \(bench.oneRunWidth) leaves", width: bench.oneRunWidth, label: "-one")
        if let drained = one.figures.first {
            many.figures.append(.init(label: "one run of \(bench.oneRunWidth) leaves: drain", value: drained.value, unit: drained.unit))
        }
        many.description += "; then \(one.description)"
        many.exactlyOnce = many.exactlyOnce.map { $0.adding(one.exactlyOnce) }
        return many
    }
}
