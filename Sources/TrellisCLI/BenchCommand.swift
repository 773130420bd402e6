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
        abstract: "Benchmarks: the engine (default) and the analyst history queries.",
        discussion: "Both publish bench-* workflows and write runs in the target database: use a scratch database.",
        subcommands: [EngineBench.self, HistoryBenchCommand.self, RelayBenchCommand.self],
        defaultSubcommand: EngineBench.self)
}

struct EngineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Measure commit baseline, no-op fan-out throughput and pickup latency on the configured database.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Fan-out runs for the throughput test.") var runs = 200
    @Option(help: "Leaves per fan-out run (plus one root).") var width = 16
    @Option(help: "In-process scheduler instances.") var schedulers = 2
    @Option(help: "Handlers in flight per scheduler.") var concurrency = 128
    @Option(help: "Claim batch size.") var batch = 128
    @Option(help: "Single-row commits for the baseline.") var commits = 2000
    @Option(help: "Runs for the pickup-latency test.") var pickups = 200

    func validate() throws {
        for (name, value) in [("runs", runs), ("width", width), ("schedulers", schedulers), ("concurrency", concurrency),
                              ("batch", batch), ("commits", commits), ("pickups", pickups)] where value < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
    }

    func run() async throws {
        var bench = Bench(databaseURL: try await connection.locator.resolve { Console.note($0) })
        bench.runs = runs
        bench.width = width
        bench.schedulers = schedulers
        bench.concurrency = concurrency
        bench.batch = batch
        bench.commits = commits
        bench.pickups = pickups
        let report = try await bench.run { Console.note($0) }
        print("PostgreSQL \(report.serverVersion), fsync=\(report.fsync), synchronous_commit=\(report.synchronousCommit)")
        print(String(format: "single-row commits      %8.0f /s   (%.0f before, %.0f after the throughput test)",
                     report.commitsPerSecond, report.commitsBefore, report.commitsAfter))
        print(String(format: "no-op fan-out nodes     %8.0f /s   (%d nodes in %.2f s; %.2f× the commit rate)",
                     report.nodesPerSecond, report.nodes, report.throughputSeconds, report.nodesPerSecond / report.commitsPerSecond))
        print(String(format: "pickup ready→running    p50 %.2f ms, p99 %.2f ms   (%d samples)", report.pickupP50, report.pickupP99, report.pickupSamples))
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
    }
}
