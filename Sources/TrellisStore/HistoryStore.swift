import Foundation
import TrellisPQ

/// The analyst questions the CLI answers (`trellis history …`) and retention
/// (`trellis prune`). The figures come from the documented views and functions in
/// sql/050_history; results are returned as they come, for table/JSON/CSV rendering.
public struct HistoryStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// Per workflow and version over the runs created since `since` ago (e.g. "7d").
    public func stats(since: String, workflow: String? = nil) async throws -> PGResult {
        try await connection.run(Query.History.stats, [since, workflow])
    }

    /// Failed node runs since `since` ago, newest first.
    public func failures(since: String, workflow: String? = nil, limit: Int) async throws -> PGResult {
        try await connection.run(Query.History.failures, [since, workflow, limit])
    }

    /// The longest finished runs created since `since` ago.
    public func slowest(since: String, workflow: String? = nil, limit: Int) async throws -> PGResult {
        try await connection.run(Query.History.slowest, [since, workflow, limit])
    }

    /// What one prune batch removed (or, for a preview, would remove).
    public struct Pruned: Sendable, Hashable {
        public var runs = 0
        public var nodeRuns = 0
        public var attempts = 0
        public var events = 0
        public var approvals = 0
        public var cutoff: Date?

        public init() {}

        init(_ row: PGRow) throws {
            runs = try row.decode("runs")
            nodeRuns = try row.decode("node_runs")
            attempts = try row.decode("attempts")
            events = try row.decode("events")
            approvals = try row.decode("approvals")
            cutoff = try row.decode("cutoff")
        }

        mutating func add(_ other: Pruned) {
            runs += other.runs
            nodeRuns += other.nodeRuns
            attempts += other.attempts
            events += other.events
            approvals += other.approvals
            cutoff = cutoff ?? other.cutoff
        }
    }

    public func prunePreview(olderThan: String, as actor: String) async throws -> Pruned {
        try Pruned(try await connection.run(Query.Retention.preview, [olderThan, actor]).single())
    }

    /// Prunes in batches of `batch` runs, each its own short transaction, until nothing
    /// older than the cutoff is left; `progress` sees every batch.
    public func prune(olderThan: String, batch: Int = 500, as actor: String,
                      progress: (Pruned) -> Void = { _ in }) async throws -> Pruned {
        var total = Pruned()
        while true {
            let pruned = try Pruned(try await connection.run(Query.Retention.pruneBatch, [olderThan, batch, actor]).single())
            total.add(pruned)
            if pruned.runs == 0 { return total }
            progress(pruned)
        }
    }

    /// A retention policy: keep finished runs for `keepDays` and/or the newest `keepRuns`
    /// of the workflow. `source` is workflow, default or none.
    public struct RetentionPolicy: Sendable, Equatable {
        public var keepDays: Int?
        public var keepRuns: Int?
        public var source: String

        public var description: String {
            let limits = [keepDays.map { "\($0) day(s)" }, keepRuns.map { "the newest \($0) run(s)" }].compactMap { $0 }
            return limits.isEmpty ? "keep everything (no policy)" : "keep " + limits.joined(separator: " and at most ") + " (\(source) policy)"
        }

        init(_ rows: [PGRow]) throws {
            guard let row = rows.first else {
                self.init(keepDays: nil, keepRuns: nil, source: "none")
                return
            }
            self.init(keepDays: try row.decodeIfPresent("keep_days"), keepRuns: try row.decodeIfPresent("keep_runs"),
                      source: try row.decode("source"))
        }

        public init(keepDays: Int?, keepRuns: Int?, source: String) {
            self.keepDays = keepDays
            self.keepRuns = keepRuns
            self.source = source
        }
    }

    /// The policy in force for a workflow (its own, else the default, else none).
    public func retention(of workflow: String) async throws -> RetentionPolicy {
        try RetentionPolicy(try await connection.run(Query.Retention.policy, [workflow]).rows)
    }

    /// The default policy (for workflows without their own); source none when there is none.
    public func defaultRetention() async throws -> RetentionPolicy {
        try RetentionPolicy(try await connection.run(Query.Retention.defaultPolicy).rows)
    }

    /// Sets a workflow's policy, or the default (`workflow` nil); both limits nil clears it.
    public func setRetention(_ workflow: String?, keepDays: Int?, keepRuns: Int?, as actor: String) async throws -> RetentionPolicy {
        try RetentionPolicy(try await connection.run(Query.Retention.set, [workflow, keepDays, keepRuns, actor]).rows)
    }
}
