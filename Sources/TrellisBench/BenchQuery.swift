import TrellisPQ
import TrellisStore

/// Names of the benchmark's own queries (`queries/bench`, `queries/chaos`), embedded into
/// this target only: the product binary's catalogue never carries bench DDL.
enum BenchQuery {
    static let setup = "bench/setup"
    static let commitRow = "bench/commit_row"
    static let teardown = "bench/teardown"
    static let startRuns = "bench/start_runs"
    static let openRuns = "bench/open_runs"
    static let pickupLatency = "bench/pickup_latency"
    static let settings = "bench/settings"
    static let exactlyOnce = "bench/exactly_once"
    static let nodeSpan = "bench/node_span"
    static let runLatency = "bench/run_latency"
    static let settlingTransactions = "bench/settling_transactions"
    static let runFinished = "bench/run_finished"
    static let startOne = "bench/start_one"
    static let startRunsSet = "bench/start_runs_set"
    static let discardRuns = "bench/discard_runs"
    static let liveSchedulers = "bench/live_schedulers"
    static let historyGenerate = "bench/history_generate"
    static let walPosition = "bench/wal_position"
    static let analyzeDefinitions = "bench/analyze_definitions"
    static let chaosVerdict = "chaos/verdict"
    static let chaosProgress = "chaos/progress"
    static let chaosTerminateBackend = "chaos/terminate_backend"
    static let chaosStartRun = "chaos/start_run"

    /// The benchmark's catalogue.
    static let catalogue: SQLCatalogue = {
        do {
            return try SQLCatalogue(files: EmbeddedSQL.files.map { SQLFile(path: $0.path, contents: $0.contents) })
        } catch {
            fatalError("embedded bench catalogue is invalid: \(error)")
        }
    }()
}

extension PGConnection {
    /// Runs one of the benchmark's named queries with bound parameters.
    @discardableResult
    func bench(_ name: String, _ parameters: [(any PGEncodable)?] = []) async throws -> PGResult {
        try await run(name, parameters, catalogue: BenchQuery.catalogue)
    }

    /// As a prepared statement of the session, as a client that calls one statement many
    /// times does (asyncpg, the driver under pgqueuer, prepares every statement).
    func benchPrepared(_ name: String, _ parameters: [(any PGEncodable)?] = []) async throws -> PGResult {
        try await runPrepared(name, parameters, catalogue: BenchQuery.catalogue)
    }
}
