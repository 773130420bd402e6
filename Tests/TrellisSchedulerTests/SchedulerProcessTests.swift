import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

private func count(_ conn: PGConnection, _ sql: String, _ params: [(any PGEncodable)?] = []) async throws -> Int {
    try await conn.query(sql, params).single().decode("n", as: Int.self)
}

/// Real scheduler processes against one database.
@Suite("Scheduler processes")
struct SchedulerProcessTests {
    @Test func twoSchedulersRunEveryNodeExactlyOnce() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let a = try BackgroundProcess(trellis: ["scheduler", "--name", "a", "--concurrency", "8", "--batch", "8", "--database-url", db.url])
                let b = try BackgroundProcess(trellis: ["scheduler", "--name", "b", "--concurrency", "8", "--batch", "8", "--database-url", db.url])
                try await waitUntil(timeout: .seconds(30), "both schedulers to register") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.schedulers WHERE stopped_at IS NULL") == 2
                }
                try await conn.query("""
                    SELECT trellis.start_run('fan-out-fan-in', jsonb_build_object('topic', 'run ' || g), 'admin')
                    FROM generate_series(1, 200) g
                    """)
                try await waitUntil(timeout: .seconds(240), "200 runs to finish") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL") == 0
                }
                #expect(a.stop() == 0, "\(a.log)")
                #expect(b.stop() == 0, "\(b.log)")

                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE status = 'succeeded'") == 200)
                // Every work node ran exactly once: one attempt each, no duplicates, none lost.
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts") == 1000)
                #expect(try await count(conn, """
                    SELECT count(*) AS n FROM (SELECT node_run_id FROM trellis.node_attempts GROUP BY node_run_id HAVING count(*) > 1) d
                    """) == 0)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts WHERE outcome <> 'succeeded'") == 0)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_runs WHERE status <> 'succeeded'") == 0)
                // Both instances did work, and both deregistered on SIGTERM.
                #expect(try await count(conn, "SELECT count(DISTINCT scheduler_name) AS n FROM trellis.node_attempts") == 2)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.schedulers WHERE stopped_at IS NOT NULL") == 2)
                // Every run's event log is gap-free and ends with run.finished.
                #expect(try await count(conn, """
                    SELECT count(*) AS n FROM trellis.workflow_runs r
                    WHERE r.last_seq <> (SELECT count(*) FROM trellis.run_events e WHERE e.run_id = r.id)
                       OR (SELECT type FROM trellis.run_events e WHERE e.run_id = r.id ORDER BY seq DESC LIMIT 1) <> 'run.finished'
                    """) == 0)
            }
        }
    }

    @Test func killedSchedulersNodesAreReclaimedAfterTheLease() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "slow", "nodes": [
                      {"key": "long", "kind": "tool_call", "handler": "sleep", "config": {"ms": [600000, 200]},
                       "retry": {"max_attempts": 3, "initial_delay": "100ms", "jitter": false}},
                      {"key": "after", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "long", "to": "after"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                // The victim serves only `sleep`, and its attempt would sleep ten minutes: it is
                // certainly still running the node when it is killed.
                let victim = try BackgroundProcess(trellis: ["scheduler", "--name", "victim", "--handlers", "sleep", "--lease", "2", "--database-url", db.url])
                let run = try await RunStore(connection: conn).start("slow", as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "the victim to claim the slow node") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts WHERE scheduler_name = 'victim' AND outcome = 'running'") == 1
                }
                #expect(victim.stop(SIGKILL) == 128 + SIGKILL)

                let rescuer = try BackgroundProcess(trellis: ["scheduler", "--name", "rescuer", "--lease", "2", "--database-url", db.url])
                try await waitUntil(timeout: .seconds(60), "the run to finish") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NOT NULL") == 1
                }
                #expect(rescuer.stop() == 0, "\(rescuer.log)")
                #expect(try await RunStore(connection: conn).run(run).status == "succeeded")
                let attempts = try await conn.query("""
                    SELECT a.scheduler_name || ':' || a.outcome AS o FROM trellis.node_attempts a
                    JOIN trellis.node_runs n ON n.id = a.node_run_id WHERE n.node_key = 'long' ORDER BY a.attempt
                    """).rows.map { try $0.decode("o", as: String.self) }
                #expect(attempts == ["victim:lost", "rescuer:succeeded"])
            }
        }
    }
}
