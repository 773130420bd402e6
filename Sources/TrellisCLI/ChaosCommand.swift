import ArgumentParser
import Foundation
import TrellisBench
import TrellisStore

/// `trellis chaos`: the fault-injection run that proves nothing is lost.
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Run workflows through real schedulers and a relay while injecting faults; check nothing was lost.",
        discussion: """
            Starts --schedulers scheduler processes and a relay, starts --runs runs of seven chaos-* \
            workflows, and meanwhile SIGKILLs (and restarts) a random scheduler every 300–700 ms, \
            terminates random backends, and has --subscribers WebSocket clients drop and resume. \
            Against the local cluster (no --database-url) it also restarts PostgreSQL twice \
            (-m fast, then -m immediate). Afterwards it checks from the database that every run \
            finished, none failed by worker loss or except by design, every succeeded node had \
            exactly one applied result, and every event log and every client stream is gap-free. \
            Exits 0 when every check holds, 1 otherwise. It writes runs: use a scratch database.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Runs to start.") var runs = 500
    @Option(help: "Scheduler processes.") var schedulers = 3
    @Option(help: "WebSocket subscribers.") var subscribers = 200
    @Option(help: "Seed of the fault schedule and the run mix (default: random, printed).") var seed: UInt64?
    @Option(help: "Give up after this many seconds.") var timeout = 600
    @Flag(help: "Never restart the database, even the local cluster.") var noRestarts = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard (1...32).contains(schedulers) else { throw ValidationError("--schedulers must be 1 to 32") }
        guard (0...2000).contains(subscribers) else { throw ValidationError("--subscribers must be 0 to 2000") }
        guard timeout >= 10 else { throw ValidationError("--timeout must be at least 10 seconds") }
    }

    func run() async throws {
        let locator = connection.locator
        let url = try await locator.resolve { Console.note($0) }
        var options = Chaos.Options(databaseURL: url, trellisPath: Self.executablePath)
        options.runs = runs
        options.schedulers = schedulers
        options.subscribers = subscribers
        if let seed { options.seed = seed }
        options.timeout = .seconds(timeout)
        if locator.configuredURL == nil && !noRestarts {
            let cluster = locator.localCluster
            options.restartDatabase = { immediate in
                _ = try cluster.stop(immediate: immediate)
                _ = try await cluster.start()
            }
        }
        let report = try await Chaos(options: options).run { Console.note($0) }
        if json {
            print(report.json)
        } else {
            print(report.text)
        }
        if !report.violations.isEmpty { throw ExitCode(1) }
    }

    /// This very binary, so the schedulers and relay run the same build.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
