import ArgumentParser
import Foundation
import TrellisScheduler

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure commit baseline, no-op fan-out throughput and pickup latency on the configured database.",
        discussion: "Publishes bench-* workflows and starts runs in the target database: use a scratch database.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Fan-out runs for the throughput test.") var runs = 200
    @Option(help: "Leaves per fan-out run (plus one root).") var width = 16
    @Option(help: "In-process scheduler instances.") var schedulers = 2
    @Option(help: "Handlers in flight per scheduler.") var concurrency = 32
    @Option(help: "Claim batch size.") var batch = 64
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
        print(String(format: "single-row commits      %8.0f /s", report.commitsPerSecond))
        print(String(format: "no-op fan-out nodes     %8.0f /s   (%d nodes in %.2f s; %.2f× the commit rate)",
                     report.nodesPerSecond, report.nodes, report.throughputSeconds, report.nodesPerSecond / report.commitsPerSecond))
        print(String(format: "pickup ready→running    p50 %.2f ms, p99 %.2f ms   (%d samples)", report.pickupP50, report.pickupP99, report.pickupSamples))
    }
}
