import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

/// `trellis bench history`: generates a synthetic finished history of about `nodeRuns`
/// node runs (queries/bench/history_generate.sql), then EXPLAIN ANALYZEs every documented
/// analyst query (queries/analyst/*.sql) and times retention batches over it. Point it at
/// a scratch database: it publishes bench-history-* workflows and prunes old runs.
public struct HistoryBench: Sendable {
    public var databaseURL: String
    public var nodeRuns = 1_000_000
    public var pruneBatches = 20

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    public struct Plan: Sendable {
        public var query: String
        public var question: String
        public var milliseconds: Double
        public var indexes: [String]
        /// Sequential scans of the large tables (node_runs, node_attempts, run_events, workflow_runs).
        public var largeSeqScans: [String]
        public var rows: Int
    }

    public struct Report: Sendable {
        public var runs: Int
        public var nodeRuns: Int
        public var attempts: Int
        public var events: Int
        public var generateSeconds: Double
        public var plans: [Plan]
        public var pruneBatchMilliseconds: [Double]
        public var prunedRuns: Int
        public var prunedEvents: Int
    }

    static let largeTables = ["node_runs", "node_attempts", "run_events", "workflow_runs"]

    /// The documented analyst queries, in order: (name, question, SQL).
    public static var questions: [(name: String, question: String, sql: String)] {
        SQLCatalogue.embedded.queries.keys.filter { $0.hasPrefix("analyst/") }.sorted().map { name in
            let sql = SQLCatalogue.embedded.query(name)
            let question = sql.split(separator: "\n").first.map { String($0.dropFirst(3)) } ?? name
            return (name, question, sql)
        }
    }

    /// Index names and large-table sequential scans in a text plan.
    public static func summarize(plan: String) -> (indexes: [String], largeSeqScans: [String]) {
        var indexes: [String] = []
        var scans: [String] = []
        for line in plan.split(separator: "\n") {
            for marker in ["Index Scan using ", "Index Only Scan using ", "Bitmap Index Scan on "] {
                if let range = line.range(of: marker) {
                    let name = line[range.upperBound...].split(separator: " ").first.map(String.init) ?? ""
                    if !indexes.contains(name) { indexes.append(name) }
                }
            }
            if let range = line.range(of: "Seq Scan on ") {
                let table = line[range.upperBound...].split(separator: " ").first.map(String.init) ?? ""
                if largeTables.contains(table), !scans.contains(table) { scans.append(table) }
            }
        }
        return (indexes, scans)
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        try await PGConnection.withConnection(databaseURL) { conn in
            log("generating about \(nodeRuns) node runs (3 per run)")
            let started = ContinuousClock.now
            let generated = try await Self.generate(conn, nodeRuns: nodeRuns)
            try await conn.execute(script: "ANALYZE")
            let generateSeconds = BenchFigures.seconds(ContinuousClock.now - started)

            var plans: [Plan] = []
            for question in Self.questions {
                log("explain \(question.name)")
                let text = try await conn.query("EXPLAIN (ANALYZE, BUFFERS OFF) " + question.sql).rows
                    .map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
                let summary = Self.summarize(plan: text)
                let time = text.split(separator: "\n").last { $0.contains("Execution Time:") }
                    .flatMap { Double($0.split(separator: " ").dropLast().last ?? "") } ?? .nan
                let rows = try await conn.query(question.sql).rows.count
                plans.append(Plan(query: question.name, question: question.question, milliseconds: time,
                                  indexes: summary.indexes, largeSeqScans: summary.largeSeqScans, rows: rows))
            }

            log("pruning \(pruneBatches) batches of 500 runs older than 60 days")
            var batchTimes: [Double] = []
            var prunedRuns = 0, prunedEvents = 0
            for _ in 0..<pruneBatches {
                let batchStart = ContinuousClock.now
                let row = try await conn.run(Query.Retention.pruneBatch, ["60d", 500, "admin"]).single()
                batchTimes.append(BenchFigures.seconds(ContinuousClock.now - batchStart) * 1000)
                prunedRuns += try row.decode("runs", as: Int.self)
                prunedEvents += try row.decode("events", as: Int.self)
            }
            return Report(
                runs: try generated.decode("runs"), nodeRuns: try generated.decode("node_runs"),
                attempts: try generated.decode("attempts"), events: try generated.decode("events"),
                generateSeconds: generateSeconds, plans: plans, pruneBatchMilliseconds: batchTimes,
                prunedRuns: prunedRuns, prunedEvents: prunedEvents)
        }
    }

    /// Publishes three 3-node chains and generates about `nodeRuns` finished node runs of
    /// them (queries/bench/history_generate.sql); the row of counts it made.
    static func generate(_ conn: PGConnection, nodeRuns: Int) async throws -> PGRow {
        let workflows = WorkflowStore(connection: conn)
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        for (index, keys) in [["fetch", "score", "store"], ["check", "enrich", "notify"], ["read", "train", "report"]].enumerated() {
            let nodes = keys.map { #"{"key": "\#($0)", "kind": "tool_call", "handler": "echo"}"# }.joined(separator: ", ")
            let edges = zip(keys, keys.dropFirst()).map { #"{"from": "\#($0)", "to": "\#($1)"}"# }.joined(separator: ", ")
            _ = try await workflows.publish(
                definition: #"{"name": "bench-history-\#(index)-\#(suffix)", "nodes": [\#(nodes)], "edges": [\#(edges)]}"#, as: "admin")
        }
        return try await conn.bench(BenchQuery.historyGenerate, [max(1, nodeRuns / 3)]).single()
    }
}
