import Foundation
import Synchronization
import TrellisCore
import TrellisPQ
import TrellisStore
#if canImport(Glibc)
import Glibc
#endif

/// `trellis chaos`: runs a mix of workflows through real scheduler processes and a real
/// relay while faults are injected — schedulers SIGKILLed and restarted, backends
/// terminated, the database restarted (when the driver may), WebSocket subscribers
/// dropping and resuming — then checks from the database and the clients that nothing
/// was lost, applied twice or delivered out of order.
public struct Chaos: Sendable {
    public struct Options: Sendable {
        public var databaseURL: String
        /// The `trellis` executable that runs the schedulers and the relay.
        public var trellisPath: String
        public var runs = 500
        public var schedulers = 3
        public var subscribers = 200
        public var seed = UInt64.random(in: 1...UInt64(UInt32.max))
        /// A random scheduler is SIGKILLed (and restarted) once the fleet has finished this
        /// many node attempts since the last kill (`killAfterAttempts`), and at most once
        /// per this many milliseconds.
        public var killEvery: ClosedRange<Int> = 300...700
        /// Kills are paced by work done, not by the clock alone: the chance that an attempt
        /// dies with its process — and so that a node loses its lease over and over — then
        /// stays the same on a machine or build three times slower (a debug build on two
        /// loaded cores), where clock-paced kills met each attempt three times as often.
        public var killAfterAttempts: ClosedRange<Int> = 10...40
        /// A random scheduler or relay backend is terminated every this many milliseconds.
        public var terminateEvery: ClosedRange<Int> = 500...1500
        /// Restarts the database (`immediate`: without a shutdown checkpoint); nil when the
        /// driver must not touch the server.
        public var restartDatabase: (@Sendable (_ immediate: Bool) async throws -> Void)?
        /// Chance that a subscriber drops its connection after an event.
        public var dropProbability = 0.02
        public var leaseSeconds = 3
        public var timeout: Duration = .seconds(600)

        public init(databaseURL: String, trellisPath: String) {
            self.databaseURL = databaseURL
            self.trellisPath = trellisPath
        }
    }

    /// What happened and what the checks found. `violations` is empty when every
    /// guarantee held.
    public struct Report: Sendable {
        public var seed: UInt64 = 0
        public var seconds = 0.0
        /// The checks read from the database afterwards (queries/chaos/verdict.sql).
        public var database = Verdict()
        public var kills = 0
        public var restarts = 0
        public var terminations = 0
        public var clients = 0
        public var clientEvents = 0
        public var clientDrops = 0
        public var clientsIncomplete = 0
        public var unexpectedExits = 0
        public var violations: [String] = []
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let started = ContinuousClock.now
        var report = Report()
        report.seed = options.seed
        log("chaos seed \(options.seed): \(options.runs) runs, \(options.schedulers) schedulers, \(options.subscribers) subscribers")
        // Every run of this invocation carries an idempotency key with this prefix: retried
        // starts are not doubled, and the checks below read exactly these runs.
        let keys = "chaos-\(options.seed)-\(Int(Date().timeIntervalSince1970 * 1000))-"
        let token = try await prepare()
        let work = FileManager.default.temporaryDirectory.appending(path: "trellis-chaos-\(getpid())-\(options.seed)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        // A kill per 10–40 finished attempts (at most one per 0.3–0.7 s) is about a hundred
        // times any real fleet's churn: a node can lose its lease to four kills in a row by
        // chance. The bound on lost leases
        // (trellis.max_lost_leases, 3; proved by WorkerLossTests) is raised to 10 for the
        // fleet's sessions, so the run checks the re-queueing itself, not the dice. One lane
        // per process: the run's length (and so the kills a node meets) follows the number
        // of claim loops on the database, and six loops on two cores once ran past that
        // bound (kill -9 of a two-lane process is covered by SchedulerProcessTests).
        let fleet = Fleet(trellis: options.trellisPath, directory: work, databaseURL: options.databaseURL, namePrefix: "chaos",
                          schedulerArguments: ["--lease", String(options.leaseSeconds), "--concurrency", "16", "--batch", "16", "--lanes", "1",
                                               "--poll-interval", "200", "--allow-sql", "--max-output-bytes", "1048576",
                                               "--max-stored-output-bytes", "2097152"],
                          environment: ["PGOPTIONS": "-c trellis.max_lost_leases=10"])
        defer { fleet.killAll() }
        for index in 0..<options.schedulers { try fleet.startScheduler(index) }
        let relayPort = try await fleet.startRelay()
        log("relay on port \(relayPort); \(options.schedulers) schedulers started")

        let source = RunSource()
        let deadline = Date().addingTimeInterval(Double(options.timeout.components.seconds))
        let clients = ChaosSubscribers(count: options.subscribers, port: relayPort, token: token, source: source,
                                       dropProbability: options.dropProbability, seed: options.seed &+ 1)
        clients.start(deadline: deadline)

        // Start the runs in bursts while faults fly; retried starts are idempotent.
        let startFailure = Mutex<String?>(nil)
        let starter = Task {
            do { try await startRuns(into: source, keys: keys, log: log) } catch { startFailure.withLock { $0 = "\(error)" } }
        }
        let approver = Task { await approveGates() }
        var random = SeededGenerator(seed: options.seed)
        let clock = ContinuousClock()
        var nextKill = clock.now + .milliseconds(Self.draw(options.killEvery, &random))
        var nextKillAt = Self.draw(options.killAfterAttempts, &random)
        var nextTermination = clock.now + .milliseconds(options.terminateEvery.lowerBound)
        var restartsLeft = options.restartDatabase == nil ? 0 : 2
        var progress = Progress()
        var lastCheck = clock.now - .seconds(1)
        while Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
            if clock.now >= nextKill && progress.finishedAttempts >= nextKillAt {
                let victim = Int(random.next() % UInt64(options.schedulers))
                fleet.kill(victim)
                try fleet.startScheduler(victim)
                report.kills += 1
                nextKill = clock.now + .milliseconds(Self.draw(options.killEvery, &random))
                nextKillAt = progress.finishedAttempts + Self.draw(options.killAfterAttempts, &random)
            }
            if clock.now >= nextTermination {
                if let terminated = try? await PGConnection.withConnection(options.databaseURL, {
                    try await $0.bench(BenchQuery.chaosTerminateBackend).single().decode("terminated", as: Int.self)
                }) { report.terminations += terminated }
                nextTermination = clock.now + .milliseconds(Self.draw(options.terminateEvery, &random))
            }
            if clock.now - lastCheck >= .milliseconds(250) {
                lastCheck = clock.now
                if let fresh = try? await readProgress(keys: keys) { progress = fresh }
                let doneShare = options.runs == 0 ? 1 : Double(progress.runs - progress.unfinished) / Double(options.runs)
                // Restart the database at about a third and two thirds of the way.
                if restartsLeft > 0, doneShare >= (restartsLeft == 2 ? 0.3 : 0.6), let restart = options.restartDatabase {
                    let immediate = restartsLeft == 1
                    log("restarting the database (\(immediate ? "-m immediate" : "-m fast")) with \(progress.runs - progress.unfinished) of \(options.runs) runs done")
                    let began = ContinuousClock.now
                    try await restart(immediate)
                    log("database back after \(ContinuousClock.now - began)")
                    restartsLeft -= 1
                    report.restarts += 1
                }
                if progress.runs == options.runs && progress.unfinished == 0 { break }
                if let failure = startFailure.withLock({ $0 }) {
                    log("starting runs failed: \(failure)")
                    break
                }
                report.unexpectedExits = fleet.unexpectedExits.count
            }
        }
        approver.cancel()
        starter.cancel()
        await starter.value
        source.close()
        let results = await clients.wait()
        let exits = fleet.unexpectedExits
        let graceful = await fleet.stopAll()
        // The checks, once everything has stopped (a few tries: the database was just
        // restarted under the last of the load).
        var verdict = Verdict()
        for attempt in 1...5 {
            do {
                verdict = try await readVerdict(keys: keys)
                break
            } catch {
                log("reading the verdict failed (\(attempt) of 5): \(error)")
                if attempt < 5 { try await Task.sleep(for: .seconds(1)) }
            }
        }

        report.seconds = BenchFigures.seconds(ContinuousClock.now - started)
        report.database = verdict
        report.clients = results.count
        report.clientEvents = results.reduce(0) { $0 + $1.events }
        report.clientDrops = results.reduce(0) { $0 + $1.drops }
        report.clientsIncomplete = results.filter { $0.error != nil }.count
        report.unexpectedExits = exits.count

        var violations: [String] = []
        if let failure = startFailure.withLock({ $0 }) { violations.append("starting runs failed: \(failure)") }
        if verdict.runs != options.runs { violations.append("\(verdict.runs) runs were created, not \(options.runs)") }
        if verdict.unfinished > 0 { violations.append("\(verdict.unfinished) runs never finished") }
        if verdict.failedUnexpectedly > 0 {
            violations.append("\(verdict.failedUnexpectedly) runs not designed to fail did not succeed: \(verdict.unexpectedFailures ?? "?")")
        }
        if verdict.poisonNotFailed > 0 { violations.append("\(verdict.poisonNotFailed) poison runs did not fail") }
        if verdict.largeNotStored > 0 { violations.append("\(verdict.largeNotStored) large outputs not stored whole as a readable artifact") }
        if verdict.failedByWorkerLoss > 0 { violations.append("\(verdict.failedByWorkerLoss) runs failed by worker loss (lease_expired)") }
        if verdict.resultsNotAppliedOnce > 0 { violations.append("\(verdict.resultsNotAppliedOnce) succeeded nodes without exactly one applied result") }
        if verdict.runsWithGaps > 0 { violations.append("\(verdict.runsWithGaps) runs with gaps or duplicates in their event seq") }
        for exit in exits { violations.append("a scheduler or relay exited on its own: \(exit)") }
        if !graceful.isEmpty { violations.append("not stopped cleanly by SIGTERM: \(graceful.joined(separator: "; "))") }
        let incomplete = results.compactMap(\.error)
        if !incomplete.isEmpty {
            violations.append("\(incomplete.count) of \(results.count) subscribers did not see every stream gap-free; first: \(incomplete[0])")
        }
        report.violations = violations
        return report
    }

    private static func draw(_ range: ClosedRange<Int>, _ random: inout SeededGenerator) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.count))
    }

    /// Migrates, publishes the chaos workflows, and makes an approver and a token.
    private func prepare() async throws -> String {
        try await PGConnection.withConnection(options.databaseURL) { conn in
            try await Migrator(connection: conn).up()
            let workflows = WorkflowStore(connection: conn)
            for shape in ChaosWorkflows.all {
                _ = try await workflows.publish(definition: shape.definition, as: "admin")
            }
            let principals = PrincipalStore(connection: conn)
            if try await !principals.list().contains(where: { $0.name == "chaos-approver" }) {
                _ = try await principals.create("chaos-approver", as: "admin")
            }
            _ = try await principals.grant("approve", on: "chaos-gate", to: "chaos-approver", as: "admin")
            return try await TokenStore(connection: conn).create(for: "admin", description: "trellis chaos", as: "admin").token
        }
    }

    /// Starts the runs in bursts of 25, reconnecting through database restarts; each run
    /// carries an idempotency key, so a start retried after a lost answer is not doubled.
    private func startRuns(into source: RunSource, keys: String, log: @Sendable (String) -> Void) async throws {
        var random = SeededGenerator(seed: options.seed &+ 2)
        let shapes = (0..<options.runs).map { _ in ChaosWorkflows.pick(&random) }
        var index = 0
        var connection: PGConnection?
        var failures = 0
        while index < options.runs {
            do {
                if connection == nil { connection = try await PGConnection.connect(options.databaseURL, applicationName: "trellis-chaos") }
                let shape = shapes[index]
                let options = #"{"idempotency_key": "\#(keys)\#(index)"}"#
                let id: UUID = try await connection!.bench(BenchQuery.chaosStartRun, [shape.name, shape.input(index), options])
                    .single().decode("run_id")
                source.append(id)
                index += 1
                failures = 0
                if index % 25 == 0 { try await Task.sleep(for: .milliseconds(100)) }
            } catch let error as PGError where error.kind != .server || error.isTransient || error.sqlState?.hasPrefix("57") == true {
                // The database is restarting or our backend was terminated: reconnect and retry this run.
                await connection?.close()
                connection = nil
                failures += 1
                if failures > 600 { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        await connection?.close()
        log("all \(options.runs) runs started")
    }

    /// Approves every pending chaos-gate approval as chaos-approver, a few times a second.
    private func approveGates() async {
        while !Task.isCancelled {
            try? await PGConnection.withConnection(options.databaseURL) { conn in
                let approvals = ApprovalStore(connection: conn)
                for approval in try await approvals.list(status: "pending") where approval.workflow == "chaos-gate" {
                    _ = try? await approvals.decide(approval.id, .approve, as: "chaos-approver", comment: "chaos")
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// What the database says about the chaos runs afterwards.
    public struct Verdict: Sendable {
        public var runs = 0, unfinished = 0, succeeded = 0, failedByDesign = 0, poisonNotFailed = 0, failedUnexpectedly = 0
        public var largeNotStored = 0
        /// The first few of those runs, with what their nodes failed with.
        public var unexpectedFailures: String?
        public var failedByWorkerLoss = 0, resultsNotAppliedOnce = 0, runsWithGaps = 0, lostAttempts = 0, requeuedNodes = 0
        public var events: Int64 = 0
    }

    /// How far the runs have got (queries/chaos/progress.sql).
    struct Progress {
        var runs = 0, unfinished = 0
        /// Attempts whose handler came back (not running, not lost): the pace of kills.
        var finishedAttempts = 0
    }

    private func readProgress(keys: String) async throws -> Progress {
        try await PGConnection.withConnection(options.databaseURL) { conn in
            let row = try await conn.bench(BenchQuery.chaosProgress, [keys]).single()
            return Progress(runs: try row.decode("runs"), unfinished: try row.decode("unfinished"),
                            finishedAttempts: try row.decode("finished_attempts"))
        }
    }

    private func readVerdict(keys: String) async throws -> Verdict {
        try await PGConnection.withConnection(options.databaseURL) { conn in
            let row = try await conn.bench(BenchQuery.chaosVerdict, [keys]).single()
            return Verdict(
                runs: try row.decode("runs"), unfinished: try row.decode("unfinished"), succeeded: try row.decode("succeeded"),
                failedByDesign: try row.decode("failed_by_design"), poisonNotFailed: try row.decode("poison_not_failed"),
                failedUnexpectedly: try row.decode("failed_unexpectedly"), largeNotStored: try row.decode("large_not_stored"),
                unexpectedFailures: try row.decodeIfPresent("unexpected_failures", as: String.self),
                failedByWorkerLoss: try row.decode("failed_by_worker_loss"),
                resultsNotAppliedOnce: try row.decode("results_not_applied_once"), runsWithGaps: try row.decode("runs_with_gaps"),
                lostAttempts: try row.decode("lost_attempts"), requeuedNodes: try row.decode("requeued_nodes"), events: try row.decode("events"))
        }
    }
}
