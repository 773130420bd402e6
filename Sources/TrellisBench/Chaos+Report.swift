import Foundation

extension Chaos.Report {
    /// The report as people read it: what was done, what was checked, and the verdict.
    public var text: String {
        var lines = [
            "chaos seed \(seed): \(database.runs) runs in \(String(format: "%.1f", seconds)) s",
            "faults: \(kills) scheduler kills, \(restarts) database restarts, \(terminations) backend terminations, "
                + "\(clientDrops) subscriber drops",
            "runs: \(database.succeeded) succeeded, \(database.failedByDesign) failed by design, \(database.failedUnexpectedly) failed otherwise, \(database.unfinished) unfinished",
            "worker loss: \(database.lostAttempts) lost attempts, \(database.requeuedNodes) nodes re-queued, \(database.failedByWorkerLoss) runs failed by it",
            "results applied other than once: \(database.resultsNotAppliedOnce); runs with event gaps: \(database.runsWithGaps); events: \(database.events)",
            "subscribers: \(clients) clients received \(clientEvents) events; \(clientsIncomplete) missed or reordered any",
            "processes that exited on their own: \(unexpectedExits)",
        ]
        if violations.isEmpty {
            lines.append("PASSED: every guarantee held")
        } else {
            lines.append("FAILED:")
            lines += violations.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let fields: [(String, Any)] = [
            ("seed", seed), ("seconds", seconds), ("runs", database.runs), ("succeeded", database.succeeded), ("failed_by_design", database.failedByDesign),
            ("failed_unexpectedly", database.failedUnexpectedly), ("unfinished", database.unfinished), ("failed_by_worker_loss", database.failedByWorkerLoss),
            ("results_not_applied_once", database.resultsNotAppliedOnce), ("runs_with_gaps", database.runsWithGaps), ("events", database.events),
            ("lost_attempts", database.lostAttempts), ("requeued_nodes", database.requeuedNodes), ("kills", kills), ("restarts", restarts),
            ("terminations", terminations), ("clients", clients), ("client_events", clientEvents), ("client_drops", clientDrops),
            ("clients_incomplete", clientsIncomplete), ("unexpected_exits", unexpectedExits), ("violations", violations),
        ]
        let object = Dictionary(uniqueKeysWithValues: fields.map { ($0.0, $0.1) })
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
