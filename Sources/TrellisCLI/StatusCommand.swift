import ArgumentParser
import Foundation
import TrellisCore
import TrellisStore

/// `trellis status`: is the fleet healthy? Schedulers, queue, runs, approvals, the last
/// hour and the problems to look at first, on one screen (or as JSON).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet on one screen: schedulers, queue, runs, approvals, the last hour, problems (administrators).",
        discussion: "The same document is served by the relay at GET /v1/status. Exits 0 whatever it finds; read the problems.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions
    @Option(help: ArgumentHelp("A scheduler without a heartbeat for this long is stale: 30s, 5m …", valueName: "duration"))
    var staleAfter = "60s"
    @Flag(help: "Print the status document as JSON.") var json = false

    func validate() throws {
        guard let seconds = DurationText.seconds(staleAfter), seconds > 0 else {
            throw ValidationError("--stale-after must be a duration such as 30s, 5m or 1h, got \"\(staleAfter)\"")
        }
    }

    func run() async throws {
        let status = try await connection.withConnection {
            try await FleetStore(connection: $0).status(as: actor.name, staleAfterSeconds: DurationText.seconds(staleAfter) ?? 60)
        }.decode(JSONValue.self)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(Self.render(status))
        }
    }

    static func render(_ status: JSONValue) -> String {
        func number(_ value: JSONValue?) -> String {
            guard let value = value?.doubleValue else { return "-" }
            return value.rounded() == value ? String(Int(value)) : String(format: "%.1f", value)
        }
        func age(_ value: JSONValue?) -> String {
            guard let seconds = value?.doubleValue else { return "-" }
            switch seconds {
            case ..<120: return String(format: "%.1f s", seconds)
            case ..<7_200: return String(format: "%.0f min", seconds / 60)
            default: return String(format: "%.1f h", seconds / 3_600)
            }
        }
        func items(_ value: JSONValue?) -> [JSONValue] {
            if case .array(let items) = value { return items }
            return []
        }
        var lines: [String] = []
        let schedulers = items(status["schedulers"])
        let stale = schedulers.filter { $0["stale"] == .bool(true) }.count
        lines.append("SCHEDULERS  \(schedulers.count - stale) live, \(stale) stale (no heartbeat for \(number(status["stale_after_s"])) s)")
        if !schedulers.isEmpty {
            var table = TextTable(headers: ["NAME", "HOST", "PID", "HANDLERS", "IN FLIGHT", "HEARTBEAT", "STATE"])
            for s in schedulers {
                let handlers = items(s["handlers"]).compactMap(\.stringValue).joined(separator: ",")
                table.append([s["name"]?.stringValue ?? "", s["hostname"]?.stringValue ?? "", number(s["pid"]), handlers,
                              "\(number(s["in_flight"]))/\(number(s["concurrency"]))", age(s["heartbeat_age_s"]) + " ago",
                              s["stale"] == .bool(true) ? "STALE" : "live"])
            }
            lines.append(table.render())
        }
        lines.append("")
        lines.append("QUEUE       \(number(status["ready"])) ready, \(number(status["running"])) running, \(number(status["waiting_to_retry"])) waiting to retry")
        let queue = items(status["queue"])
        if !queue.isEmpty {
            var table = TextTable(headers: ["WORKFLOW", "HANDLER", "READY", "OLDEST WAIT"])
            for q in queue {
                table.append([q["workflow"]?.stringValue ?? "", q["handler"]?.stringValue ?? "", number(q["ready"]), age(q["oldest_wait_s"])])
            }
            lines.append(table.render())
        }
        lines.append("")
        let runs = status["runs"]
        lines.append("RUNS        " + RunStatus.active.map(\.rawValue).map { "\($0) \(number(runs?[$0]))" }.joined(separator: ", "))
        let approvals = status["approvals"]
        lines.append("APPROVALS   \(number(approvals?["pending"])) pending" +
                     (approvals?["oldest_age_s"]?.doubleValue != nil ? " (oldest \(age(approvals?["oldest_age_s"])))" : ""))
        let hour = status["last_hour"]
        lines.append("LAST HOUR   \(number(hour?["lost_leases"])) lost lease(s) re-queued, \(number(hour?["failed_attempts"])) failed attempt(s)")
        let problems = items(status["problems"]).compactMap(\.stringValue)
        lines.append("")
        lines.append(problems.isEmpty ? "PROBLEMS    none" : "PROBLEMS\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }
}
