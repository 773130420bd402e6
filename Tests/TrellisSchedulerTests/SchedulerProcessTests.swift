import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

private func count(_ conn: PGConnection, _ sql: String, _ params: [(any PGEncodable)?] = []) async throws -> Int {
    try await conn.query(sql, params).single().decode("n", as: Int.self)
}

/// Real scheduler processes against one database.
@Suite("Scheduler processes")
struct SchedulerProcessTests {
    /// A retention policy applied by a scheduler process while it runs the workflow's
    /// nodes: the newest five finished runs stay, the rest go with everything they had.
    @Test func aBusySchedulerAppliesTheRetentionPolicy() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "kept", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}, {"key": "b", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "a", "to": "b"}]}"#,
                    as: "admin")
                let url = ["--database-url", db.url]
                let set = try TrellisBinary.run(["workflow", "retention", "kept", "--keep-runs", "5"] + url)
                #expect(set.stdout == "kept: retention: keep the newest 5 run(s) (workflow policy)\n", "\(set.stdout)\(set.stderr)")
                // A two-second lease: the scheduler's maintenance pass (reclaim, expiries, retention) runs every second.
                let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "keeper", "--handlers", "echo", "--lease", "2"] + url)
                let store = RunStore(connection: conn)
                for round in 0..<4 {
                    _ = try await store.start("kept", inputs: (0..<10).map { #"{"round": \#(round), "i": \#($0)}"# }, as: "admin")
                }
                try await waitUntil(timeout: .seconds(60), "40 runs finished and all but five removed") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs") == 5
                }
                #expect(scheduler.stop() == 0, "\(scheduler.log)")
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE status = 'succeeded'") == 5)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_runs") == 10)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts") == 10)
                #expect(try await count(conn, """
                    SELECT count(*) AS n FROM trellis.run_events e WHERE NOT EXISTS (SELECT 1 FROM trellis.workflow_runs r WHERE r.id = e.run_id)
                    """) == 0)
                #expect(try await count(conn, "SELECT sum(pruned_runs)::int AS n FROM trellis.scheduler_stats") == 35)
                #expect(scheduler.log.contains("past their retention policy"))
                let shown = try TrellisBinary.run(["workflow", "show", "kept"] + url)
                #expect(shown.stdout.contains("retention: keep the newest 5 run(s) (workflow policy)"), "\(shown.stdout)")
            }
        }
    }

    /// Three scheduler processes and a schedule that ticks every second, for 20 ticks:
    /// exactly one run per tick, and no tick missed between the first and the last fired.
    @Test func threeSchedulersFireEachTickOfAnEverySecondScheduleOnce() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "tick", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"t": "$context.schedule.tick"}}]}"#,
                    as: "admin")
                let url = ["--database-url", db.url]
                let created = try TrellisBinary.run(["schedule", "create", "every-second", "--workflow", "tick", "--cron", "* * * * * *",
                                                     "--catch-up", "skip"] + url)
                #expect(created.status == 0, "\(created.stderr)")
                #expect(created.stdout.hasPrefix("created schedule every-second: next "))
                let schedulers = try (1...3).map {
                    try BackgroundProcess(trellis: ["scheduler", "--name", "s\($0)", "--handlers", "echo", "--poll-interval", "200"] + url)
                }
                try await waitUntil(timeout: .seconds(90), "20 ticks fired") {
                    try await count(conn, "SELECT count(DISTINCT scheduled_for) AS n FROM trellis.workflow_runs") >= 20
                }
                for (index, scheduler) in schedulers.enumerated() {
                    #expect(scheduler.stop() == 0, "s\(index + 1): \(scheduler.log)")
                }
                let row = try await conn.query("""
                    SELECT count(*) AS runs, count(DISTINCT scheduled_for) AS ticks,
                           extract(epoch FROM max(scheduled_for) - min(scheduled_for))::int + 1 AS span,
                           count(*) FILTER (WHERE (input ->> 'x') IS NULL AND context -> 'schedule' ->> 'name' = 'every-second') AS tagged,
                           count(DISTINCT started_by) AS owners
                    FROM trellis.workflow_runs
                    """).single()
                let runs = try row.decode("runs", as: Int.self)
                #expect(runs == (try row.decode("ticks", as: Int.self)), "one run per tick")
                #expect(runs == (try row.decode("span", as: Int.self)), "no tick missed between the first and the last")
                #expect(runs == (try row.decode("tagged", as: Int.self)))
                #expect(try row.decode("owners", as: Int.self) == 1)
                // Finished runs carried their tick into the node's input.
                #expect(try await count(conn, """
                    SELECT count(*) AS n FROM trellis.node_runs n JOIN trellis.workflow_runs r ON r.id = n.run_id
                    WHERE n.status = 'succeeded' AND (n.output ->> 't')::timestamptz <> r.scheduled_for
                    """) == 0)
                let shown = try TrellisBinary.run(["schedule", "show", "every-second"] + url)
                #expect(shown.stdout.contains("run(s) started"), "\(shown.stdout)")
            }
        }
    }

    @Test func twoSchedulersRunEveryNodeExactlyOnce() async throws {
        try await TestDatabase.withSeeded { db, conn in
            // One lane each: this is about two instances (SchedulerLanesTests covers lanes).
            let a = try BackgroundProcess(trellis: ["scheduler", "--name", "a", "--concurrency", "8", "--batch", "8", "--lanes", "1", "--database-url", db.url])
            let b = try BackgroundProcess(trellis: ["scheduler", "--name", "b", "--concurrency", "8", "--batch", "8", "--lanes", "1", "--database-url", db.url])
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
                // certainly still running the node when it is killed. Both run the default
                // lanes (victim/1, victim/2 …): the attempts name the lane.
                let victim = try BackgroundProcess(trellis: ["scheduler", "--name", "victim", "--handlers", "sleep", "--lease", "2", "--database-url", db.url])
                let run = try await RunStore(connection: conn).start("slow", as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "the victim to claim the slow node") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts WHERE scheduler_name LIKE 'victim/%' AND outcome = 'running'") == 1
                }
                #expect(victim.stop(SIGKILL) == 128 + SIGKILL)

                let rescuer = try BackgroundProcess(trellis: ["scheduler", "--name", "rescuer", "--lease", "2", "--database-url", db.url])
                try await waitUntil(timeout: .seconds(60), "the run to finish") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NOT NULL") == 1
                }
                #expect(rescuer.stop() == 0, "\(rescuer.log)")
                #expect(try await RunStore(connection: conn).run(run).status == "succeeded")
                let attempts = try await conn.query("""
                    SELECT split_part(a.scheduler_name, '/', 1) || ':' || a.outcome AS o FROM trellis.node_attempts a
                    JOIN trellis.node_runs n ON n.id = a.node_run_id WHERE n.node_key = 'long' ORDER BY a.attempt
                    """).rows.map { try $0.decode("o", as: String.self) }
                #expect(attempts == ["victim:lost", "rescuer:succeeded"])
            }
        }
    }

    /// kill -9 of a scheduler must not fail runs that have no retries: worker loss is not
    /// the node's failure.
    @Test func aKilledSchedulerFailsNoRunWithoutRetries() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "no-retry", "nodes": [
                      {"key": "work", "kind": "tool_call", "handler": "sleep", "config": {"ms": [600000, 100]}}]}
                    """, as: "admin")
                let victim = try BackgroundProcess(trellis: ["scheduler", "--name", "victim", "--lease", "2", "--database-url", db.url])
                try await conn.query("SELECT trellis.start_run('no-retry', '{}', 'admin') FROM generate_series(1, 5)")
                try await waitUntil(timeout: .seconds(30), "the victim (both lanes) to hold all five") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts WHERE scheduler_name LIKE 'victim/%' AND outcome = 'running'") == 5
                }
                #expect(victim.stop(SIGKILL) == 128 + SIGKILL)
                let rescuer = try BackgroundProcess(trellis: ["scheduler", "--name", "rescuer", "--lease", "2", "--database-url", db.url])
                try await waitUntil(timeout: .seconds(60), "the runs to finish") {
                    try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL") == 0
                }
                #expect(rescuer.stop() == 0, "\(rescuer.log)")
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE status = 'succeeded'") == 5)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_attempts WHERE scheduler_name LIKE 'victim/%' AND outcome = 'lost'") == 5)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_runs WHERE lost_leases = 1") == 5)
            }
        }
    }

    /// The report that started issue 11: a sql node returning NaN, and one returning an
    /// oversized value, next to a healthy sleep run on the same real scheduler process.
    @Test func poisonSQLOutputsFailOnlyTheirNodesAndTheProcessLives() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "poison", "nodes": [
                      {"key": "nan", "kind": "tool_call", "handler": "sql", "config": {"query": "SELECT 'NaN'::float8 AS x, 'Infinity'::numeric AS y"}},
                      {"key": "huge", "kind": "tool_call", "handler": "sql", "config": {"query": "SELECT repeat('x', 6000000) AS blob"},
                       "on_error": "continue"},
                      {"key": "nap", "kind": "tool_call", "handler": "sleep", "config": {"ms": 1500}}]}
                    """, as: "admin")
                // 6 MB: over the 5 MiB inline cap and over the cap for outputs stored as artifacts.
                let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "sturdy", "--allow-sql", "--poll-interval", "100",
                                                                 "--max-stored-output-bytes", "5500000", "--database-url", db.url])
                let run = try await RunStore(connection: conn).start("poison", as: "admin").runID
                try await waitUntil(timeout: .seconds(60), "the run to finish") {
                    try await RunStore(connection: conn).run(run).finishedAt != nil
                }
                #expect(scheduler.isRunning, "\(scheduler.log)")
                let nodes = try await RunStore(connection: conn).nodes(of: run)
                let byKey = Dictionary(uniqueKeysWithValues: nodes.map { ($0.key, $0) })
                #expect(byKey["nan"]?.status == "succeeded")
                #expect(try byKey["nan"]?.output?.decode(JSONValue.self)["rows"]?[0] == .object(["x": .string("NaN"), "y": .string("Infinity")]))
                #expect(byKey["huge"]?.status == "failed")
                #expect(try byKey["huge"]?.error?.decode(JSONValue.self)["code"] == .string("output_too_large"))
                #expect(byKey["nap"]?.status == "succeeded")
                #expect(try await RunStore(connection: conn).run(run).status == "succeeded")
                #expect(scheduler.stop() == 0, "\(scheduler.log)")
            }
        }
    }

    @Test func theSQLHandlerIsOptIn() async throws {
        try await TestDatabase.withMigrated { db in
            let refused = try TrellisBinary.run(["scheduler", "--handlers", "sql", "--database-url", db.url])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(#"no handler named "sql" is registered"#))
        }
    }
}
