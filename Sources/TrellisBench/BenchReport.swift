import Foundation
import TrellisCore

/// What `trellis bench` measured in one run: the server, the commit-rate baseline taken
/// in the same run, and each workload's figures with their ratio to that baseline and the
/// exactly-once verdict read from the database afterwards. Encodes as the `--json` output.
public struct BenchReport: Codable, Sendable {
    public struct CommitRate: Codable, Sendable {
        /// Concurrent clients, each committing single-row inserts.
        public var clients: Int
        public var before: Double
        public var after: Double
        /// The baseline: a disk's commit rate drifts by tens of percent within minutes, so
        /// it is measured before and after the workloads and averaged.
        public var mean: Double { (before + after) / 2 }
        /// One client's commits per second, before and after: the floor of everything done
        /// one call at a time (a single client waits for each commit's flush; several
        /// share flushes), so the one-at-a-time figures are read against it.
        public var oneClientBefore: Double?
        public var oneClientAfter: Double?
        public var oneClientMean: Double? {
            guard let oneClientBefore, let oneClientAfter else { return nil }
            return (oneClientBefore + oneClientAfter) / 2
        }
        /// One client's time per commit, in milliseconds.
        public var oneClientLatency: Double? { oneClientMean.map { 1_000 / $0 } }
    }

    public struct Figure: Codable, Sendable {
        public var label: String
        public var value: Double
        public var unit: String
        /// value ÷ the commit rate, for throughput figures.
        public var ratioToCommitRate: Double?
        /// A figure of one thing at a time (one call per run, pickup, one DAG run at a time):
        /// it is read against one client's commits rather than against concurrent clients'.
        public var oneClient: Bool?
        /// Against one client's commits: for a one-at-a-time throughput, value ÷ that rate;
        /// for a one-at-a-time latency, how many of one client's commit times it spans — near
        /// 1 per commit the path waits on the disk, far above it on CPU and round trips.
        public var againstOneClientCommit: Double?
    }

    public struct Workload: Codable, Sendable {
        public var name: String
        public var description: String
        public var figures: [Figure]
        /// nil when the workload has nothing to check (start: nothing ran).
        public var exactlyOnce: ExactlyOnce?
    }

    /// Violations counted by queries/bench/exactly_once.sql: all zero means every node ran
    /// once, on its first attempt, and logged one node.finished event.
    public struct ExactlyOnce: Codable, Sendable {
        public var runs: Int
        public var nodes: Int
        public var runsNotSucceeded: Int
        public var nodesNotSucceeded: Int
        public var nodesNotOnce: Int
        public var nodesWithoutOneEvent: Int
        public var passed: Bool { runsNotSucceeded == 0 && nodesNotSucceeded == 0 && nodesNotOnce == 0 && nodesWithoutOneEvent == 0 }
        /// Both checks' counts together (one workload that drained two workflows).
        public func adding(_ other: ExactlyOnce?) -> ExactlyOnce {
            guard let other else { return self }
            return ExactlyOnce(runs: runs + other.runs, nodes: nodes + other.nodes,
                               runsNotSucceeded: runsNotSucceeded + other.runsNotSucceeded,
                               nodesNotSucceeded: nodesNotSucceeded + other.nodesNotSucceeded,
                               nodesNotOnce: nodesNotOnce + other.nodesNotOnce,
                               nodesWithoutOneEvent: nodesWithoutOneEvent + other.nodesWithoutOneEvent)
        }
        public var summary: String {
            passed ? "exactly once: \(nodes) nodes of \(runs) runs" :
                "NOT exactly once: \(runsNotSucceeded) runs not succeeded, \(nodesNotSucceeded) nodes not succeeded, "
                + "\(nodesNotOnce) nodes not run once, \(nodesWithoutOneEvent) nodes without one node.finished event"
        }
    }

    public var date: String
    public var server: String
    public var fsync: String
    public var synchronousCommit: String
    public var trellisVersion: String
    /// How the schedulers ran: processes, and their flags ("stock" when none).
    public var schedulers: String
    /// Finished node runs pre-loaded into the history tables before the workloads.
    public var history: Int
    public var commitRate: CommitRate
    public var workloads: [Workload]

    public var passed: Bool { workloads.allSatisfy { $0.exactlyOnce?.passed ?? true } }

    /// The human-readable report.
    public func render() -> String {
        var lines = [
            "PostgreSQL \(server), fsync=\(fsync), synchronous_commit=\(synchronousCommit); trellis \(trellisVersion)",
            "schedulers: \(schedulers); history: \(history) finished node runs",
            String(format: "commit rate (%d clients, single-row inserts): %.0f /s  (%.0f before, %.0f after)",
                   commitRate.clients, commitRate.mean, commitRate.before, commitRate.after),
        ]
        if let rate = commitRate.oneClientMean, let latency = commitRate.oneClientLatency,
           let before = commitRate.oneClientBefore, let after = commitRate.oneClientAfter {
            lines.append(String(format: "commit rate (1 client): %.0f /s, %.2f ms per commit  (%.0f before, %.0f after)",
                                rate, latency, before, after))
        }
        var table = TextTable(headers: ["WORKLOAD", "FIGURE", "VALUE", "× COMMIT RATE", "VS 1 CLIENT'S COMMITS"])
        for workload in workloads {
            for (index, figure) in workload.figures.enumerated() {
                table.append([index == 0 ? workload.name : "", figure.label, Self.format(figure),
                              figure.ratioToCommitRate.map { String(format: "%.2f×", $0) } ?? "",
                              Self.formatAgainstOneClient(figure)])
            }
        }
        lines.append(table.render())
        for workload in workloads {
            lines.append("\(workload.name): \(workload.description)" + (workload.exactlyOnce.map { "; \($0.summary)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// "0.95× rate" for a one-client throughput, "8.6 commits" for a latency.
    static func formatAgainstOneClient(_ figure: Figure) -> String {
        guard let value = figure.againstOneClientCommit, value.isFinite else { return "" }
        return figure.unit == "ms" ? String(format: "%.1f commits", value) : String(format: "%.2f× rate", value)
    }

    static func format(_ figure: Figure) -> String {
        guard figure.value.isFinite else { return "n/a" }
        switch figure.unit {
        case "ms": return String(format: "%.1f ms", figure.value)
        case "per run": return String(format: "%.2f per run", figure.value)
        default: return String(format: "%.0f %@", figure.value, figure.unit)
        }
    }
}
