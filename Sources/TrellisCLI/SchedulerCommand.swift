import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import TrellisScheduler

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run a scheduler instance: claim ready nodes, run their handlers, report results.",
        discussion: """
            Run as many instances as you like, on any machines, against one database; each process \
            runs --lanes claim/report loops (registered as NAME/1, NAME/2, …). \
            SIGINT/SIGTERM stop claiming, let handlers in flight finish (or release them after \
            the lease), deregister, and exit 0. Built-in handlers: echo, sleep, fail, http; sql with \
            --allow-sql and shell with --allow-shell (both run what a workflow author wrote, so they \
            are off unless asked for). A node's bad output fails that node only; a lost lease \
            re-queues its node (up to trellis.max_lost_leases times) and stops its handler here.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Handlers in flight at most, split evenly between the lanes.") var concurrency = Self.defaultConcurrency
    @Option(help: "Nodes claimed per statement at most (a claim takes what its lane's free capacity allows, up to this).") var batch = 100
    @Option(help: ArgumentHelp("Independent claim/report loops in this process, each with its own connections and registration (NAME/1, NAME/2, …): a second keeps the database busy while the first is between round trips.",
                               valueName: "n")) var lanes = Self.defaultLanes
    static let defaultConcurrency = 200
    static let defaultLanes = 2
    @Option(help: ArgumentHelp("A pass with at least this many results reports them on a second connection while it claims (0: one connection).",
                               valueName: "n")) var parallelReport = 16
    @Flag(help: "Do not fire due schedules from this instance (others still do).") var noSchedules = false
    @Option(help: "Serve only these handlers (comma-separated). Default: all registered.") var handlers: String?
    @Option(help: "Lease in seconds (2 to 600); a node whose scheduler stops heartbeating is reclaimed after it.") var lease = 30
    @Option(help: "Fallback poll interval in milliseconds.") var pollInterval = 1000
    @Flag(help: "Never LISTEN (behind connection poolers); poll only.") var pollOnly = false
    @Option(help: "Instance name (default: host-pid).") var name: String?
    @Flag(help: "Serve the shell handler (runs config.argv without a shell). Off by default.") var allowShell = false
    @Flag(help: "Serve the sql handler (runs config.query, each node in its own transaction). Off by default.") var allowSql = false
    @Option(help: "Database the sql handler runs queries on (default: the scheduler's own).") var sqlUrl: String?
    @Option(help: "Inline cap: a node output larger than this many bytes is stored whole as an artifact, and the node's output becomes a reference with a preview.")
    var maxOutputBytes = 5 << 20
    @Option(help: "Outputs over the inline cap up to this many bytes are stored as artifacts; larger ones fail with output_too_large (0: none stored).")
    var maxStoredOutputBytes = 256 << 20
    @Option(help: "The largest artifact a handler may store.") var maxArtifactBytes = 1 << 30
    @Option(help: "LLM credentials and prices for the llm handler (YAML or JSON; keys by environment variable name). Default: $TRELLIS_LLM_CONFIG.")
    var llmConfig: String?
    @Option(help: "Serve /metrics (Prometheus), /healthz and /readyz on this port (0: any free port; printed at start).")
    var metricsPort: Int?
    @Option(help: "Address for --metrics-port.") var metricsHost = "127.0.0.1"
    @Option(help: "Log lines on stderr: text, or json (one object per line, with run_id, node_key and attempt on node lines).")
    var logFormat: LogFormat = .text
    @Option(help: "Seconds between checks that the database's schema is still the one this binary makes, as at start (0: only at start and on reconnecting). A mismatch stops the scheduler with exit 78.")
    var schemaCheckInterval = 60

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard (1...1000).contains(batch) else { throw ValidationError("--batch must be 1 to 1000") }
        guard (1...16).contains(lanes) else { throw ValidationError("--lanes must be 1 to 16") }
        guard parallelReport >= 0 else { throw ValidationError("--parallel-report must be 0 or more") }
        guard (2...Scheduler.maxLeaseSeconds).contains(lease) else { throw ValidationError("--lease must be 2 to \(Scheduler.maxLeaseSeconds) seconds") }
        guard maxOutputBytes >= 1 else { throw ValidationError("--max-output-bytes must be at least 1") }
        guard maxStoredOutputBytes >= 0 else { throw ValidationError("--max-stored-output-bytes must be 0 or more") }
        guard maxArtifactBytes >= 1 else { throw ValidationError("--max-artifact-bytes must be at least 1") }
        guard sqlUrl == nil || allowSql else { throw ValidationError("--sql-url needs --allow-sql") }
        guard pollInterval >= 10 else { throw ValidationError("--poll-interval must be at least 10 ms") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be 0 to 65535") }
        guard (0...86_400).contains(schemaCheckInterval) else { throw ValidationError("--schema-check-interval must be 0 to 86400 seconds") }
    }

    func run() async throws {
        // Signals are caught from the first instruction on: a SIGTERM that arrives while the
        // scheduler starts (resolving the database, connecting) stops it as soon as it
        // exists — gracefully, never by the default action (exit 143).
        let stop = StopRequest()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }

        var options = SchedulerOptions(name: name ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())")
        options.concurrency = concurrency
        options.batch = batch
        options.parallelReportThreshold = parallelReport
        options.fireSchedules = !noSchedules
        options.handlers = handlers.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        options.leaseSeconds = lease
        options.pollInterval = .milliseconds(pollInterval)
        options.pollOnly = pollOnly
        options.shutdownGrace = .seconds(lease)
        options.maxOutputBytes = maxOutputBytes
        options.maxStoredOutputBytes = maxStoredOutputBytes
        options.maxArtifactBytes = maxArtifactBytes
        options.schemaCheckInterval = schemaCheckInterval > 0 ? .seconds(schemaCheckInterval) : nil
        let url = try await connection.locator.resolve { Console.note($0) }
        var llm = LLMConfiguration()
        if let path = llmConfig ?? ProcessInfo.processInfo.environment["TRELLIS_LLM_CONFIG"] {
            do {
                llm = try LLMConfiguration.load(path: path)
            } catch {
                throw CLIError("\(error)")
            }
        }
        let registry = HandlerRegistry.standard(allowSQL: allowSql ? (sqlUrl ?? url) : nil, allowShell: allowShell, llm: llm)
        let metrics = metricsPort.map { _ in SchedulerMetrics() }
        let scheduler = SchedulerLanes(databaseURL: url, registry: registry, options: options, lanes: lanes, metrics: metrics,
                                       logger: ConsoleLogHandler.logger("trellis.scheduler", format: logFormat))
        let endpoints = metricsPort.flatMap { port in metrics.map { metrics in
            Task { [metricsHost] in
                do {
                    try await SchedulerEndpoints.serve(host: metricsHost, port: port, scheduler: scheduler, metrics: metrics) { bound in
                        FileHandle.standardOutput.write(Data("scheduler metrics on http://\(metricsHost):\(bound)/metrics\n".utf8))
                    }
                } catch {
                    Console.note("metrics endpoint stopped: \(error)")
                }
            }
        } }
        defer { endpoints?.cancel() }
        stop.attach(scheduler)
        do {
            _ = try await SchemaRefusal.mapped { try await scheduler.run() }
        } catch let error as HandlerError {
            throw CLIError(error.message)
        }
    }
}

/// A stop request (SIGTERM/SIGINT) that may come before the scheduler exists.
private final class StopRequest: Sendable {
    private let state = Mutex<(requested: Bool, scheduler: SchedulerLanes?)>((false, nil))

    func signal() {
        state.withLock { state in
            state.requested = true
            return state.scheduler
        }?.requestStop()
    }

    func attach(_ scheduler: SchedulerLanes) {
        let requested = state.withLock { state in
            state.scheduler = scheduler
            return state.requested
        }
        if requested { scheduler.requestStop() }
    }
}
