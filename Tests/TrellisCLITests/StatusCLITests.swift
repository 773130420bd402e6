import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// `trellis status` against a real fleet: two live schedulers, one killed with SIGKILL
/// while it holds a node, a backlog no scheduler serves, and a pending approval.
@Suite("trellis status (binary)")
struct StatusCLITests {
    @Test func showsLiveAndStaleSchedulersTheBacklogAndTheApproval() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: """
                    {"name": "busy", "nodes": [{"key": "nap", "kind": "tool_call", "handler": "sleep", "config": {"ms": 120000}}]}
                    """, as: "admin")
                _ = try await workflows.publish(definition: """
                    {"name": "orphaned", "nodes": [{"key": "work", "kind": "tool_call", "handler": "nobody-serves-this"}]}
                    """, as: "admin")
                _ = try await workflows.publish(definition: """
                    {"name": "gated", "nodes": [{"key": "ok", "kind": "human_gate", "prompt": "Go?"}]}
                    """, as: "admin")
                let url = ["--database-url", db.url]
                let victim = try BackgroundProcess(trellis: ["scheduler", "--name", "victim", "--handlers", "sleep", "--concurrency", "1", "--lease", "120"] + url)
                _ = try await RunStore(connection: conn).start("busy", inputs: ["{}"], as: "admin")
                try await waitUntil(timeout: .seconds(30), "the victim to hold a node") {
                    try await conn.query("SELECT count(*) AS n FROM trellis.node_attempts WHERE scheduler_name = 'victim' AND outcome = 'running'")
                        .single().decode("n", as: Int.self) == 1
                }
                #expect(victim.stop(SIGKILL) == 128 + SIGKILL)
                let live = try ["a", "b"].map {
                    try BackgroundProcess(trellis: ["scheduler", "--name", $0, "--handlers", "sleep", "--concurrency", "1", "--lease", "3"] + url)
                }
                _ = try await RunStore(connection: conn).start("busy", inputs: ["{}", "{}", "{}"], as: "admin")
                _ = try await RunStore(connection: conn).start("orphaned", inputs: Array(repeating: "{}", count: 5), as: "admin")
                _ = try await RunStore(connection: conn).start("gated", input: "{}", as: "admin")

                var status = JSONValue.null
                try await waitUntil(timeout: .seconds(30), "two live schedulers holding a node each, and the victim stale") {
                    let result = try TrellisBinary.run(["status", "--json", "--stale-after", "3s"] + url)
                    guard result.status == 0 else { throw StoreError(code: .invalidInput, message: result.stderr) }
                    status = try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout.utf8))
                    guard case .array(let schedulers) = status["schedulers"] else { return false }
                    let byName = Dictionary(uniqueKeysWithValues: schedulers.map { ($0["name"]?.stringValue ?? "", $0) })
                    return byName["victim"]?["stale"] == .bool(true) && byName["a"]?["stale"] == .bool(false)
                        && byName["b"]?["stale"] == .bool(false) && byName["a"]?["in_flight"] == .number(1) && byName["b"]?["in_flight"] == .number(1)
                }
                guard case .array(let schedulers) = status["schedulers"] else { Issue.record("no schedulers"); return }
                #expect(schedulers.count == 3)
                #expect(schedulers.first { $0["name"] == .string("victim") }?["in_flight"] == .number(1), "its node stays held until its lease expires")
                #expect(status["ready"] == .number(6), "5 orphaned + 1 busy beyond the two live schedulers' capacity: \(status)")
                guard case .array(let queue) = status["queue"] else { Issue.record("no queue"); return }
                #expect(queue.contains { $0["handler"] == .string("nobody-serves-this") && $0["ready"] == .number(5) })
                #expect(status["approvals"]?["pending"] == .number(1))
                #expect(status["runs"]?["queued"] == .number(6), "5 orphaned + 1 busy not yet claimed: \(status)")
                guard case .array(let problems) = status["problems"] else { Issue.record("no problems"); return }
                let text = problems.compactMap(\.stringValue)
                #expect(text.count == 2, "\(text)")
                #expect(text.contains { $0.contains(#"handler "nobody-serves-this""#) && $0.hasPrefix("5 ready") })
                #expect(text.contains { $0.hasPrefix("scheduler victim") && $0.contains("1 node(s)") })

                // The same on one screen.
                let screen = try TrellisBinary.run(["status", "--stale-after", "3s"] + url)
                #expect(screen.status == 0)
                for line in ["SCHEDULERS  2 live, 1 stale", "STALE", "nobody-serves-this", "APPROVALS   1 pending", "PROBLEMS\n  - "] {
                    #expect(screen.stdout.contains(line), "\(line) in:\n\(screen.stdout)")
                }
                // Administrators only, and a bad duration is refused before any query.
                _ = try await PrincipalStore(connection: conn).create("viewer", as: "admin")
                let refused = try TrellisBinary.run(["status", "--as", "viewer"] + url)
                #expect(refused.status == 1 && refused.stderr.contains("administrators only"), "\(refused.stderr)")
                #expect(refused.stderr.split(separator: "\n").count == 1)
                let bad = try TrellisBinary.run(["status", "--stale-after", "soon"] + url)
                #expect(bad.status != 0 && bad.stderr.contains("--stale-after"))
                for process in live { #expect(process.stop() == 0, "\(process.log)") }
            }
        }
    }
}
