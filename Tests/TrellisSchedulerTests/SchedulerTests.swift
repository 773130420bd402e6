import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisScheduler
import TrellisStore
import TrellisTestSupport

@Suite("Scheduler in process")
struct SchedulerTests {
    /// Runs an in-process scheduler until `done` holds, then stops it.
    func withScheduler(_ db: TestDatabase, options: SchedulerOptions = SchedulerOptions(name: "in-process"),
                       until done: @escaping () async throws -> Bool) async throws -> SchedulerSummary {
        var options = options
        options.pollInterval = .milliseconds(50)
        let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options)
        let running = Task { try await scheduler.run() }
        try await waitUntil(timeout: .seconds(60), "the scheduler's work", done)
        scheduler.requestStop()
        return try await running.value
    }

    @Test func timeoutsCancelHandlersAndFailTheRun() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "too-slow", "nodes": [{"key": "nap", "kind": "tool_call", "handler": "sleep",
                      "config": {"ms": 60000}, "timeout": "200ms", "retry": {"max_attempts": 2, "initial_delay": 0}}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let run = try await RunStore(connection: conn).start("too-slow", as: "admin").runID
                let started = ContinuousClock.now
                let summary = try await withScheduler(db) {
                    try await RunStore(connection: conn).run(run).finishedAt != nil
                }
                #expect(ContinuousClock.now - started < .seconds(30))  // the 60 s sleep was cancelled
                #expect(summary.failed == 2)
                let final = try await RunStore(connection: conn).run(run)
                #expect(final.status == "failed")
                #expect(try final.error?.decode(JSONValue.self)["code"] == .string("timeout"))
                let outcomes = try await conn.query("SELECT outcome FROM trellis.node_attempts ORDER BY attempt").rows
                    .map { try $0.decode("outcome", as: String.self) }
                #expect(outcomes == ["timed_out", "timed_out"])
            }
        }
    }

    @Test func pruneRunsWhileASchedulerIsBusy() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let wide = """
                    {"name": "busy", "nodes": [{"key": "a", "kind": "tool_call", "handler": "sleep", "config": {"ms": 5}},
                      {"key": "b", "kind": "tool_call", "handler": "sleep", "config": {"ms": 5}},
                      {"key": "c", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "a", "to": "c"}, {"from": "b", "to": "c"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: wide, as: "admin")
                let store = RunStore(connection: conn)
                // 40 runs finish, then are made 60 days old.
                var old: [UUID] = []
                for _ in 0..<40 { old.append(try await store.start("busy", as: "admin").runID) }
                _ = try await withScheduler(db) {
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL").single()
                        .decode("n", as: Int.self) == 0
                }
                try await conn.query("""
                    UPDATE trellis.workflow_runs SET created_at = created_at - interval '60 days',
                        started_at = started_at - interval '60 days', finished_at = finished_at - interval '60 days'
                    """)
                // 60 new runs run while prune works through the old ones in small batches.
                var fresh: [UUID] = []
                for _ in 0..<60 { fresh.append(try await store.start("busy", as: "admin").runID) }
                var options = SchedulerOptions(name: "busy")
                options.concurrency = 8
                let pruned = Task {
                    try await PGConnection.withConnection(db.url) { other in
                        try await HistoryStore(connection: other).prune(olderThan: "30d", batch: 3, as: "admin")
                    }
                }
                let summary = try await withScheduler(db, options: options) {
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL").single()
                        .decode("n", as: Int.self) == 0
                }
                let removed = try await pruned.value
                #expect(removed.runs == 40)
                #expect(summary.refused == 0)
                let left = try await conn.query("SELECT id, status FROM trellis.workflow_runs").rows
                #expect(Set(try left.map { try $0.decode("id", as: UUID.self) }) == Set(fresh))
                #expect(try left.allSatisfy { try $0.decode("status", as: String.self) == "succeeded" })
            }
        }
    }

    @Test func handlersReportProgressBeforeTheirResult() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "chatty", "nodes": [{"key": "nap", "kind": "tool_call", "handler": "sleep", "config": {"ms": 40, "steps": 4}}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let store = RunStore(connection: conn)
                let run = try await store.start("chatty", as: "admin").runID
                _ = try await withScheduler(db) { try await store.run(run).finishedAt != nil }
                let events = try await store.events(of: run)
                let types = events.map(\.type)
                #expect(types == ["run.queued", "run.started", "node.started", "node.progress", "node.progress", "node.progress",
                                  "node.progress", "node.finished", "node.output", "run.finished"], "\(types)")
                let percents = try events.filter { $0.type == "node.progress" }.map { try $0.data.decode(JSONValue.self)["percent"] }
                #expect(percents == [.number(25), .number(50), .number(75), .number(100)])
            }
        }
    }

    @Test func failHandlerSucceedsAfterRetries() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "flaky", "nodes": [{"key": "f", "kind": "tool_call", "handler": "fail",
                      "config": {"times": 2}, "input": {"v": 1}, "retry": {"max_attempts": 3, "initial_delay": "10ms", "jitter": false}}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let run = try await RunStore(connection: conn).start("flaky", as: "admin").runID
                let summary = try await withScheduler(db) { try await RunStore(connection: conn).run(run).finishedAt != nil }
                #expect(summary.failed == 2)
                #expect(summary.succeeded == 1)
                #expect(try await RunStore(connection: conn).run(run).status == "succeeded")
            }
        }
    }

    @Test func unknownHandlerIsRefusedAtStart() async throws {
        try await TestDatabase.withMigrated { db in
            var options = SchedulerOptions(name: "picky")
            options.handlers = ["echo", "teleport"]
            let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options)
            let error = await #expect(throws: HandlerError.self) { _ = try await scheduler.run() }
            #expect(error?.message.contains("teleport") == true)
        }
    }
}

@Suite("Scheduler resilience")
struct SchedulerResilienceTests {
    /// Large passes report on a second connection while the main one claims; losing that
    /// connection mid-drain loses nothing and applies nothing twice (checked in the database).
    @Test func reportsOnASecondConnectionAndSurvivesLosingIt() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "one-node", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"i": "$input.i"}}]}"#,
                    as: "admin")
                var options = SchedulerOptions(name: "two-lanes")
                options.pollInterval = .milliseconds(50)
                options.parallelReportThreshold = 1
                let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options)
                let running = Task { try await scheduler.run() }
                let store = RunStore(connection: conn)
                func sidePIDs() async throws -> [Int] {
                    try await conn.query("""
                        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'trellis-scheduler-report%'
                        """).rows.map { try $0.decode("pid") }
                }
                func unfinished() async throws -> Int {
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL").single().decode("n")
                }
                _ = try await store.start("one-node", inputs: (0..<400).map { #"{"i": \#($0)}"# }, as: "admin")
                try await waitUntil(timeout: .seconds(60), "a report connection") { try await !sidePIDs().isEmpty }
                let first = try await sidePIDs()
                let killed = try await conn.query("SELECT count(pg_terminate_backend(pid)) AS n FROM unnest($1::int[]) AS pid", [first.map(Int32.init)])
                    .single().decode("n", as: Int.self)
                #expect(killed == first.count)
                _ = try await store.start("one-node", inputs: (400..<800).map { #"{"i": \#($0)}"# }, as: "admin")
                try await waitUntil(timeout: .seconds(60), "the report connection opened again") {
                    try await sidePIDs().contains { !first.contains($0) }
                }
                try await waitUntil(timeout: .seconds(120), "every run finished") { try await unfinished() == 0 }
                scheduler.requestStop()
                let summary = try await running.value
                #expect(summary.succeeded == 800)
                #expect(summary.reportedApart > 0)
                let check = try await conn.query("""
                    SELECT count(*) FILTER (WHERE n.status = 'succeeded' AND n.attempt = 1) AS once,
                           (SELECT count(*) FROM trellis.node_attempts) AS attempts,
                           (SELECT count(*) FROM trellis.run_events WHERE type = 'node.finished') AS finished_events,
                           (SELECT count(*) FROM trellis.workflow_runs WHERE status = 'succeeded') AS runs
                    FROM trellis.node_runs n
                    """).single()
                #expect(try check.decode("once", as: Int.self) == 800)
                #expect(try check.decode("attempts", as: Int.self) == 800)
                #expect(try check.decode("finished_events", as: Int.self) == 800)
                #expect(try check.decode("runs", as: Int.self) == 800)
            }
        }
    }

    /// SIGTERM ends a scheduler within its grace even when every pass fails before its
    /// plan: here every progress report is refused, so each pass throws at its first call
    /// (progress goes first, and goes back to the inbox). A chaos run's scheduler, whose
    /// connection had become unusable, ran on like this past its SIGTERM for good.
    @Test func aStopEndsASchedulerWhosePassesAllFail() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "slow", "nodes": [{"key": "s", "kind": "tool_call", "handler": "sleep", "config": {"ms": 60000, "steps": 100}}]}
                    """, as: "admin")
                try await conn.execute(script: """
                    CREATE FUNCTION public.refuse_progress() RETURNS trigger LANGUAGE plpgsql AS $fn$
                    BEGIN
                        IF NEW.type = 'node.progress' THEN RAISE EXCEPTION 'progress refused for this test'; END IF;
                        RETURN NEW;
                    END;
                    $fn$;
                    CREATE TRIGGER refuse_progress BEFORE INSERT ON trellis.run_events
                        FOR EACH ROW EXECUTE FUNCTION public.refuse_progress();
                    """)
                var options = SchedulerOptions(name: "failing")
                options.pollInterval = .milliseconds(50)
                options.shutdownGrace = .seconds(1)
                let metrics = SchedulerMetrics()
                let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options, metrics: metrics)
                let running = Task { try await scheduler.run() }
                let stopped = Mutex(false)
                let watcher = Task { _ = try? await running.value; stopped.withLock { $0 = true } }
                let run = try await RunStore(connection: conn).start("slow", as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "passes failing at the progress report") {
                    prometheusSample(metrics.text(), "trellis_scheduler_loop_errors_total") ?? 0 >= 2
                }
                scheduler.requestStop()
                // The grace (1 s) plus at most one backoff (≤ 5 s) and a margin.
                try await waitUntil(timeout: .seconds(15), "the scheduler to stop") { stopped.withLock { $0 } }
                await watcher.value
                #expect(try await RunStore(connection: conn).run(run).finishedAt == nil, "the node was stopped, not finished")
            }
        }
    }

    @Test func survivesLosingItsDatabaseConnections() async throws {
        try await TestDatabase.withSeeded { db, conn in
            var options = SchedulerOptions(name: "resilient")
            options.pollInterval = .milliseconds(50)
            let metrics = SchedulerMetrics()
            let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options, metrics: metrics)
            let running = Task { try await scheduler.run() }
            let store = RunStore(connection: conn)
            let first = try await store.start("linear-pipeline", input: "{}", as: "admin").runID
            try await waitUntil(timeout: .seconds(30), "the first run") { try await store.run(first).finishedAt != nil }

            // Kill every session the scheduler holds, as a database restart would.
            let killed = try await conn.query("""
                SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                WHERE datname = current_database() AND application_name LIKE 'trellis-scheduler%'
                """).single().decode("n", as: Int.self)
            #expect(killed >= 1)

            let second = try await store.start("linear-pipeline", input: "{}", as: "admin").runID
            try await waitUntil(timeout: .seconds(60), "a run after the connections were lost") {
                try await store.run(second).finishedAt != nil
            }
            #expect(try await store.run(second).status == "succeeded")
            scheduler.requestStop()
            let summary = try await running.value
            #expect(summary.succeeded == 6)
            // A terminated backend is a lost connection: the lane reconnects at once, never
            // taking it for a failed pass and backing off (loop_errors).
            #expect(prometheusSample(metrics.text(), "trellis_scheduler_reconnects_total") ?? 0 >= 1)
            #expect(prometheusSample(metrics.text(), "trellis_scheduler_loop_errors_total") ?? 0 == 0)
            // Still one registration: the instance carried on under its id.
            #expect(try await conn.query("SELECT count(*) AS n FROM trellis.schedulers").single().decode("n", as: Int.self) == 1)
        }
    }
}
