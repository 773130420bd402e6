import Foundation

extension Chaos.Report {
    /// The report as people read it: what was done, what was checked, and the verdict.
    public var text: String {
        var lines = [
            "chaos seed \(seed): \(runs) runs in \(String(format: "%.1f", seconds)) s",
            "faults: \(kills) scheduler kills, \(restarts) database restarts, \(terminations) backend terminations, "
                + "\(clientDrops) subscriber drops",
            "runs: \(succeeded) succeeded, \(failedByDesign) failed by design, \(failedUnexpectedly) failed otherwise, \(unfinished) unfinished",
            "worker loss: \(lostAttempts) lost attempts, \(requeuedNodes) nodes re-queued, \(failedByWorkerLoss) runs failed by it",
            "results applied other than once: \(resultsNotAppliedOnce); runs with event gaps: \(runsWithGaps); events: \(events)",
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
            ("seed", seed), ("seconds", seconds), ("runs", runs), ("succeeded", succeeded), ("failed_by_design", failedByDesign),
            ("failed_unexpectedly", failedUnexpectedly), ("unfinished", unfinished), ("failed_by_worker_loss", failedByWorkerLoss),
            ("results_not_applied_once", resultsNotAppliedOnce), ("runs_with_gaps", runsWithGaps), ("events", events),
            ("lost_attempts", lostAttempts), ("requeued_nodes", requeuedNodes), ("kills", kills), ("restarts", restarts),
            ("terminations", terminations), ("clients", clients), ("client_events", clientEvents), ("client_drops", clientDrops),
            ("clients_incomplete", clientsIncomplete), ("unexpected_exits", unexpectedExits), ("violations", violations),
        ]
        let object = Dictionary(uniqueKeysWithValues: fields.map { ($0.0, $0.1) })
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
