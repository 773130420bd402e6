import ArgumentParser
import Foundation
import TrellisBench
import TrellisCore
import TrellisRelay
import TrellisScheduler
import TrellisStore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the engine's workloads (default), the relay, and the analyst history queries.",
        discussion: "Both publish bench-* workflows and write runs in the target database: use a scratch database.",
        subcommands: [EngineBenchCommand.self, HistoryBenchCommand.self, RelayBenchCommand.self],
        defaultSubcommand: EngineBenchCommand.self)
}

struct EngineBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Measure the engine's workloads (default: all) beside the disk's commit rate, and check exactly-once.",
        discussion: """
            Workloads: flat (many one-node runs drained), dag (root → 8 → merge: a burst, then one run at a \
            time), start (enqueue rates), pickup (enqueue → start into an idle scheduler), fanout (few runs, \
            many leaves). Schedulers are `trellis scheduler` processes with stock flags unless --concurrency, \
            --batch or --lanes are given. Exits 1 when a workload's nodes did not run exactly once.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Workloads to run: flat, dag, start, pickup, fanout (default: all).") var workloads: [String] = []
    @Option(help: "Scheduler processes.") var schedulers = 1
    @Option(help: "Scheduler --concurrency (default: the scheduler's own default).") var concurrency: Int?
    @Option(help: "Scheduler --batch (default: the scheduler's own default).") var batch: Int?
    @Option(help: "Scheduler --lanes (default: the scheduler's own default).") var lanes: Int?
    @Option(help: "flat: one-node runs to drain.") var runs = 20_000
    @Option(help: "dag: runs submitted in the burst.") var dagRuns = 200
    @Option(help: "dag: runs one at a time afterwards.") var serialRuns = 50
    @Option(help: "start: runs per set-based measurement.") var startRuns = 20_000
    @Option(help: "start: runs started one call each.") var singleStarts = 2_000
    @Option(help: "pickup: runs, one at a time.") var pickups = 200
    @Option(help: "fanout: runs.") var fanoutRuns = 200
    @Option(help: "fanout: leaves per run (plus one root).") var width = 16
    @Option(help: "fanout: leaves of one more run, drained alone afterwards — a fan-out within one run (0: skip).")
    var oneRunWidth = 999
    @Option(help: "Finished node runs to pre-load into the history first.") var history = 0
    @Option(help: "Commit-rate baseline: concurrent clients.") var commitClients = 8
    @Option(help: "Commit-rate baseline: commits per client (each before and after).") var commitsPerClient = 400
    @Option(help: "One client's commit-rate baseline (what one-at-a-time figures are read against): commits, before and after.")
    var oneClientCommits = 200
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        for name in workloads where BenchWorkload(rawValue: name) == nil {
            throw ValidationError("unknown workload \"\(name)\" (expected \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        for (name, value) in [("schedulers", schedulers), ("runs", runs), ("dag-runs", dagRuns), ("serial-runs", serialRuns),
                              ("start-runs", startRuns), ("single-starts", singleStarts), ("pickups", pickups),
                              ("fanout-runs", fanoutRuns), ("width", width), ("commit-clients", commitClients),
                              ("commits-per-client", commitsPerClient), ("one-client-commits", oneClientCommits)] where value < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
        guard history >= 0 else { throw ValidationError("--history must be 0 or more") }
        guard (0...999).contains(oneRunWidth) else { throw ValidationError("--one-run-width must be 0 to 999 (a workflow has at most 1,000 nodes)") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let batch, !(1...1000).contains(batch) { throw ValidationError("--batch must be 1 to 1000") }
        if let lanes, !(1...16).contains(lanes) { throw ValidationError("--lanes must be 1 to 16") }
    }

    func run() async throws {
        guard let executable = Bundle.main.executablePath else { throw CLIError("cannot find the trellis executable for the scheduler processes") }
        var bench = EngineBench(databaseURL: try await connection.locator.resolve { Console.note($0) }, trellis: executable)
        bench.schedulers = schedulers
        bench.schedulerFlags = (concurrency.map { ["--concurrency", String($0)] } ?? []) + (batch.map { ["--batch", String($0)] } ?? [])
            + (lanes.map { ["--lanes", String($0)] } ?? [])
        bench.lanesPerScheduler = SchedulerLanes.count(lanes: lanes ?? SchedulerCommand.defaultLanes,
                                                       concurrency: concurrency ?? SchedulerCommand.defaultConcurrency)
        bench.flatRuns = runs
        bench.dagRuns = dagRuns
        bench.serialRuns = serialRuns
        bench.startRuns = startRuns
        bench.singleStarts = singleStarts
        bench.pickups = pickups
        bench.fanoutRuns = fanoutRuns
        bench.width = width
        bench.oneRunWidth = oneRunWidth
        bench.history = history
        bench.commitClients = commitClients
        bench.commitsPerClient = commitsPerClient
        bench.oneClientCommits = oneClientCommits
        let chosen = workloads.isEmpty ? BenchWorkload.allCases : workloads.compactMap(BenchWorkload.init(rawValue:))
        let report = try await bench.run(chosen) { Console.note($0) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.render())
        }
        if !report.passed { throw ExitCode(1) }
    }
}

struct HistoryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Generate a large synthetic history, EXPLAIN ANALYZE the documented analyst queries, time prune batches.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Node runs to generate (3 per run).") var nodeRuns = 1_000_000
    @Option(help: "Prune batches (500 runs older than 60 days each) to time.") var pruneBatches = 20

    func validate() throws {
        guard nodeRuns >= 3 else { throw ValidationError("--node-runs must be at least 3") }
        guard pruneBatches >= 1 else { throw ValidationError("--prune-batches must be at least 1") }
    }

    func run() async throws {
        var bench = HistoryBench(databaseURL: try await connection.locator.resolve { Console.note($0) })
        bench.nodeRuns = nodeRuns
        bench.pruneBatches = pruneBatches
        let report = try await bench.run { Console.note($0) }
        print(String(format: "generated %d runs, %d node runs, %d attempts, %d events in %.1f s",
                     report.runs, report.nodeRuns, report.attempts, report.events, report.generateSeconds))
        var table = TextTable(headers: ["QUERY", "ROWS", "TIME", "INDEXES", "SEQ SCANS OF LARGE TABLES"])
        for plan in report.plans {
            table.append([plan.query, String(plan.rows), String(format: "%.1f ms", plan.milliseconds),
                          plan.indexes.joined(separator: ", "), plan.largeSeqScans.isEmpty ? "none" : plan.largeSeqScans.joined(separator: ", ")])
        }
        print(table.render())
        let sorted = report.pruneBatchMilliseconds.sorted()
        print(String(format: "prune: %d runs and %d events in %d batches; batch p50 %.1f ms, max %.1f ms",
                     report.prunedRuns, report.prunedEvents, sorted.count, sorted[sorted.count / 2], sorted.last ?? 0))
    }
}

struct RelayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Delivery latency (event ts → arrival) through a real relay to many WebSocket subscribers of one run.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "WebSocket subscribers of the run.") var subscribers = 1000
    @Option(help: "Nodes in the run (a chain).") var nodes = 20
    @Option(name: .customLong("node-ms"), help: "0: echo nodes (events as fast as the scheduler goes); N: sleep nodes of N ms, pacing the events.")
    var nodeMilliseconds = 0

    func validate() throws {
        guard subscribers >= 1 else { throw ValidationError("--subscribers must be at least 1") }
        guard nodes >= 1 else { throw ValidationError("--nodes must be at least 1") }
        guard (0...60_000).contains(nodeMilliseconds) else { throw ValidationError("--node-ms must be 0 to 60000") }
    }

    func run() async throws {
        let url = try await connection.locator.resolve { Console.note($0) }
        var bench = RelayBench(databaseURL: url)
        bench.subscribers = subscribers
        bench.runNodes = nodes
        bench.nodeMilliseconds = nodeMilliseconds
        let report = try await bench.run(log: { Console.note($0) }) { until in
            var options = SchedulerOptions(name: "bench-relay")
            options.handlers = ["echo", "sleep"]
            let scheduler = Scheduler(databaseURL: url, registry: .builtIn, options: options)
            let task = Task { try await scheduler.run() }
            while await !until() { try await Task.sleep(for: .milliseconds(20)) }
            scheduler.requestStop()
            _ = try await task.value
        }
        print(String(format: "%d subscribers × %d events (%d delivered, %d clients failed) in %.2f s; the run made %.1f events/s (%.0f frames/s to deliver)",
                     report.subscribers, report.eventsPerSubscriber, report.delivered, report.failedClients, report.seconds,
                     report.eventsPerSecond, report.eventsPerSecond * Double(report.subscribers)))
        print(String(format: "delivery lag (event ts → arrival), %d live samples: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                     report.liveSamples, report.p50, report.p99, report.max))
        print(String(format: "subscribing: %d clients at once, all acknowledged in %.2f s", report.subscribers, report.subscribeSeconds))
    }
}
