import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The plans the claim and complete path really runs, read from the server by auto_explain
/// (every statement inside the SQL functions, with actual row counts), on the two states
/// where a planner goes wrong: a queue that was never analysed right after a burst of
/// 100,000 ready nodes, and a history of 1,000,000 finished node runs whose statistics
/// predate the burst. The claim's pick must be the ordered walk of node_runs_ready_idx that
/// stops at the limit; no statement may scan node_runs, node_attempts or run_events whole,
/// nor read more than ten batches' worth of rows anywhere (the backlog must not show).
/// A third state is a scheduler's session whose plans were made while the tables were
/// small (the hot functions use generic plans, made once per session and kept until the
/// statistics change): the same checks after the history grew under it.
@Suite("Hot path plans")
struct HotPathPlanTests {
    static let readyRuns = 100_000

    @Test func neverAnalysedQueueOfAHundredThousandReadyNodes() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await Self.prepare(conn)
                try await conn.query("SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, $1::integer)))",
                                     [Self.readyRuns])
                let stats = try await conn.query("""
                    SELECT c.reltuples, s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AS never
                    FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'trellis.node_runs'::regclass
                    """).single()
                #expect(try stats.decode("reltuples", as: Double.self) < 0, "node_runs must never have been analysed")
                #expect(try stats.decode("never", as: Bool.self))
                try Self.checkPlans(db.url)
            }
        }
    }

    @Test func aMillionFinishedNodeRunsWithStatisticsFromBeforeTheBurst() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await Self.prepare(conn)
                // 1,000 finished runs × 1,000 finished node runs, written directly (foreign-key
                // triggers off for speed), then analysed: the statistics say nothing is ready.
                try await conn.execute(script: """
                    SET session_replication_role = replica;
                    \(Self.millionFinished)
                    SET session_replication_role = origin;
                    ANALYZE trellis.node_runs;
                    ANALYZE trellis.workflow_runs;
                    """)
                #expect(try await conn.query("SELECT count(*) AS n FROM trellis.node_runs WHERE status = 'succeeded'").single().decode("n", as: Int.self) == 1_000_000)
                try await conn.query("SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, $1::integer)))",
                                     [Self.readyRuns])
                try Self.checkPlans(db.url)
            }
        }
    }

    @Test func plansMadeOnSmallTablesThenAMillionFinishedNodeRuns() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await Self.prepare(conn)
                // One session, as a scheduler keeps it: its plans are made on a few rows and
                // never analysed tables (every call it makes, six times over), then the
                // history grows a million rows under them —
                // written by another session, because changing session_replication_role
                // (to write fast) resets the plan cache of the session that does it.
                let grow = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-grow-\(UUID().uuidString).sql")
                defer { try? FileManager.default.removeItem(at: grow) }
                try Self.millionFinished.write(to: grow, atomically: true, encoding: .utf8)
                try Self.checkPlans(db.url, before: """
                    \(String(repeating: Self.warmUpRound, count: 6))
                    SELECT count(*) = 0 AS drained FROM trellis.node_runs WHERE finished_at IS NULL \\gset
                    \\if :drained
                    \\else
                    \\warn 'the warm-up did not drain'
                    SELECT 1/0;
                    \\endif
                    \\! \(Self.psql) -X -q -v ON_ERROR_STOP=1 -d '\(db.url)' -c 'SET session_replication_role = replica' -f '\(grow.path)'
                    SELECT count(*) >= 1000000 AS grown FROM trellis.node_runs WHERE status = 'succeeded' \\gset
                    \\if :grown
                    \\else
                    \\warn 'the history did not grow'
                    SELECT 1/0;
                    \\endif
                    SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 1000)));
                    """)
            }
        }
    }

    /// Calls made many times from one session must keep their plans: after the warm-up
    /// (every call six times over, past the five custom plans PostgreSQL tries first), each
    /// call plans its own top-level statement and nothing inside the functions. A function
    /// that turns a planner method off (enable_nestloop, enable_seqscan) gives its generic
    /// plans that method's cost penalty wherever a custom plan avoids it, so PostgreSQL
    /// judged them dearer and planned afresh on every call: report_progress 2.8 ms per log
    /// line instead of 1.1, append_events from an API session 2.2 ms instead of 0.5
    /// (pgbench). Planning is counted by log_planner_stats (one LOG per plan made).
    @Test func repeatedCallsPlanNothingInsideTheFunctions() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await Self.prepare(conn)
                // Every function that turns a planner method off keeps generic plans.
                let unpinned = try await conn.query("""
                    SELECT p.proname FROM pg_proc p
                    WHERE p.pronamespace = 'trellis'::regnamespace
                      AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'enable\\_%=off')
                      AND NOT 'plan_cache_mode=force_generic_plan' = ANY (p.proconfig)
                    ORDER BY 1
                    """).rows.map { try $0.decode("proname", as: String.self) }
                #expect(unpinned.isEmpty, "planner methods off without generic plans: \(unpinned)")

                // (name, what it needs first, the call); the API server's calls too, from its
                // pooled sessions (starts, cancels, retries).
                let claim = """
                    SELECT coalesce(jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'output', '{}'::jsonb)), '[]') AS results
                    FROM trellis.claim_nodes(:id, ARRAY['echo'], 100, '30 seconds') \\gset
                    """
                let doomed = "SELECT run_id AS doomed FROM trellis.start_run('plan-dag', '{}') \\gset"
                let calls: [(name: String, setup: String, sql: String)] = [
                    // A scheduler's session calls no start_run: its functions all run under their own
                    // search_path, and a cached plan made under another path is made again.
                    ("claim_nodes", "", "SELECT count(*) FROM trellis.claim_nodes(:id, ARRAY['echo'], 1, '30 seconds');"),
                    ("complete_nodes", claim, "SELECT count(*) FROM trellis.complete_nodes(:id, :'results');"),
                    ("report_progress", "", "SELECT count(*) FROM trellis.report_progress(:id, :'updates');"),
                    ("heartbeat", "", "SELECT count(*) FROM trellis.heartbeat(:id, :'held', :'attempts', '30 seconds');"),
                    ("append_events", "", "SELECT trellis.append_events(ARRAY[:'other'::uuid], ARRAY['node.log'], ARRAY[jsonb_build_object('body', 'planned')]);"),
                    ("start_run", "", "SELECT count(*) FROM trellis.start_run('plan-flat', '{}');"),
                    ("start_runs", "", "SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY['{}'::jsonb, '{}'::jsonb]);"),
                    ("cancel_run", doomed, "SELECT trellis.cancel_run(:'doomed', 'admin', 'planned');"),
                    ("retry_run", doomed + "\nSELECT trellis.cancel_run(:'doomed', 'admin', 'planned');",
                     "SELECT count(*) FROM trellis.retry_run(:'doomed', 'admin', 'all');"),
                    ("pause_run", doomed, "SELECT trellis.pause_run(:'doomed', 'admin', 'planned');"),
                    ("resume_run", doomed + "\nSELECT trellis.pause_run(:'doomed', 'admin', 'planned');",
                     "SELECT trellis.resume_run(:'doomed', 'admin', 'planned');"),
                    // The relay's reads: a stream's access check, the run feed's poll, a snapshot.
                    ("require_run_access", "", "SELECT trellis.require_run_access(:'other', 'admin', 'view');"),
                    ("run_feed", "SELECT trellis.run_feed_head() AS head \\gset", "SELECT count(*) FROM trellis.run_feed('admin', NULL, :'head', 100);"),
                    ("run_snapshot", "", "SELECT trellis.run_snapshot(:'other', 'admin') IS NOT NULL;"),
                    // Decided by another administrator than the starter.
                    ("decide_approval", """
                        SELECT run_id AS gated FROM trellis.start_run('plan-gate', '{}') \\gset
                        SELECT id AS approval FROM trellis.approvals WHERE run_id = :'gated' \\gset
                        """, "SELECT trellis.decide_approval(:'approval', 'approve', 'reviewer');"),
                ]
                // A held node for progress and heartbeats, a run for plain appends, each
                // call six times more before counting (warm-up ones ran with other arguments).
                let holdAndCall = """
                    SELECT run_id AS other FROM trellis.start_run('plan-flat', '{}') \\gset
                    SELECT count(*) FROM trellis.start_run('plan-flat', '{}', 'admin', '{"priority": 20}');
                    SELECT jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'kind', 'log', 'log_kind', 'log', 'body', 'planned')) AS updates,
                           array_agg(node_run_id) AS held, array_agg(attempt) AS attempts
                    FROM trellis.claim_nodes(:id, ARRAY['echo'], 1, '30 seconds') \\gset
                    """
                let round = calls.map { "\($0.setup)\n\($0.sql)" }.joined(separator: "\n")
                // Statistics of a database with a wide workflow beside the small ones (a fan-out of
                // 1,000 nodes): the generic plan of a start's node insert then counts the average
                // version's nodes for each of ten unnest rows, dearer than a custom plan of one
                // run of a one-node workflow, and PostgreSQL planned two statements of every
                // start afresh for ever (one call per run 1,000/s instead of 1,600, pgbench).
                // And a backlog of 20,000 queued runs whose events are analysed: the run feed's
                // custom plans, knowing the cursor, looked cheaper than its generic one.
                let output = try Self.psqlStderr(of: """
                    \\set ON_ERROR_STOP on
                    SELECT count(*) FROM trellis.publish_workflow(jsonb_build_object('name', 'plan-wide',
                        'nodes', (SELECT jsonb_agg(jsonb_build_object('key', 'n' || i, 'kind', 'tool_call', 'handler', 'echo')) FROM generate_series(0, 999) i),
                        'edges', (SELECT jsonb_agg(jsonb_build_object('from', 'n0', 'to', 'n' || i)) FROM generate_series(1, 999) i)));
                    ANALYZE trellis.workflow_nodes;
                    SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 20000)));
                    ANALYZE trellis.run_events;
                    SELECT trellis.register_scheduler('plans', ARRAY['echo'], 100, 'test', 1, 'test') AS id \\gset
                    SELECT trellis.create_principal('reviewer', 'user', NULL, true);
                    SELECT count(*) FROM trellis.publish_workflow('{"name": "plan-gate", "nodes": [{"key": "gate", "kind": "human_gate"}, {"key": "after", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "gate", "to": "after"}]}');
                    \(String(repeating: Self.warmUpRound, count: 6))
                    \(holdAndCall)
                    \(String(repeating: round + "\n", count: 6))
                    SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 10)));
                    SET log_planner_stats = on;
                    SET client_min_messages = log;
                    \(calls.map { call in
                        String(repeating: "\\warn SETUP\n\(call.setup)\n\\warn MARK \(call.name)\n\(call.sql)\n", count: 3)
                    }.joined())
                    \\warn SETUP
                    """, url: db.url)
                // Plans made between a call's marker and the next marker are that call's. Each
                // call is counted three times and judged by the fewest: a plan dropped now and
                // then (an invalidation) is not the defect, planning on every call is.
                var plans: [String: [Int]] = [:]
                var current: String?
                for line in output.split(separator: "\n") {
                    if line.hasPrefix("MARK ") {
                        current = String(line.dropFirst(5))
                        plans[current!, default: []].append(0)
                    } else if line.hasPrefix("SETUP") {
                        current = nil
                    } else if let call = current, line.contains("PLANNER STATISTICS") {
                        plans[call]![plans[call]!.count - 1] += 1
                    }
                }
                for call in calls {
                    let counts = plans[call.name] ?? []
                    #expect(counts.count == 3, "\(call.name): \(counts.count) markers")
                    #expect(counts.min() == 1, "\(call.name): \(counts) plans made for one call, three times (the top-level statement is one)")
                }
            }
        }
    }

    /// The engine's functions called from a session with JIT on (an API server's, the
    /// CLI's): none of their statements may be JIT-compiled. A function that prices a join
    /// method out gives its plans costs over 10^10, far above jit_above_cost; without its
    /// own `jit = off` every statement compiled, about 1 s per call (append_events).
    @Test func noEngineStatementIsJITCompiledFromAPlainSession() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await Self.prepare(conn)
                let available = try await conn.query("SELECT pg_jit_available() AS available").single().decode("available", as: Bool.self)
                #expect(available, "PostgreSQL's JIT must be installed (llvmjit) for this test to mean anything")
                let plans = try Self.plans(of: """
                    \\set ON_ERROR_STOP on
                    SET jit = on;
                    SELECT trellis.register_scheduler('plans', ARRAY['echo'], 100, 'test', 1, 'test') AS id \\gset
                    SELECT run_id AS run FROM trellis.start_run('plan-dag', '{}') \\gset
                    SELECT run_id AS other FROM trellis.start_run('plan-dag', '{}') \\gset
                    LOAD 'auto_explain';
                    SET auto_explain.log_nested_statements = on;
                    SET auto_explain.log_level = notice;
                    SET auto_explain.log_min_duration = 0;
                    SET client_min_messages = notice;
                    \(Self.claimAndComplete)
                    SELECT trellis.cancel_run(:'run', 'admin', 'planned');
                    SELECT trellis.append_events(ARRAY[:'other'::uuid], ARRAY['node.log'], ARRAY['{"body": "planned"}'::jsonb]);
                    SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 3)));
                    """, url: db.url)
                #expect(plans.count > 20, "auto_explain printed \(plans.count) plans")
                for plan in plans {
                    #expect(!plan.contains("JIT:"), "a JIT-compiled statement:\n\(plan)")
                }
            }
        }
    }

    /// 1,000 finished runs × 1,000 finished node runs of plan-flat, written directly.
    static let millionFinished = """
        WITH runs AS (
            INSERT INTO trellis.workflow_runs (workflow_id, version_id, status, started_at, finished_at, last_seq)
            SELECT v.workflow_id, v.id, 'succeeded', now() - interval '1 day', now() - interval '1 day', 0
            FROM trellis.workflow_versions v JOIN trellis.workflows w ON w.id = v.workflow_id AND w.name = 'plan-flat'
            CROSS JOIN generate_series(1, 1000)
            RETURNING id, workflow_id, version_id
        )
        INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, status, attempt, item_index,
                                       ready_at, started_at, finished_at)
        SELECT r.id, r.workflow_id, wn.id, wn.key, wn.kind, wn.handler, 'succeeded', 1, g,
               now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
        FROM runs r JOIN trellis.workflow_nodes wn ON wn.version_id = r.version_id CROSS JOIN generate_series(1, 1000) g;
        """

    /// A one-node workflow and a small DAG (root → left, right → end: the settled root
    /// moves two dependents, the join waits for both), and no autovacuum on the big tables
    /// (it would analyse them behind the test's back).
    static func prepare(_ conn: PGConnection) async throws {
        _ = try await WorkflowStore(connection: conn).publish(
            definition: #"{"name": "plan-flat", "nodes": [{"key": "work", "kind": "tool_call", "handler": "echo"}]}"#, as: "admin")
        _ = try await WorkflowStore(connection: conn).publish(definition: #"""
            {"name": "plan-dag", "nodes": [{"key": "root", "kind": "tool_call", "handler": "echo"},
                                           {"key": "left", "kind": "tool_call", "handler": "echo"},
                                           {"key": "right", "kind": "tool_call", "handler": "echo"},
                                           {"key": "end", "kind": "tool_call", "handler": "echo"}],
             "edges": [{"from": "root", "to": "left"}, {"from": "root", "to": "right"},
                       {"from": "left", "to": "end"}, {"from": "right", "to": "end"}]}
            """#, as: "admin")
        for table in ["node_runs", "workflow_runs", "node_attempts", "run_events"] {
            try await conn.execute(script: "ALTER TABLE trellis.\(table) SET (autovacuum_enabled = off)")
        }
    }

    /// Every scheduler call on a few rows. Six times: functions without
    /// force_generic_plan switch to a generic plan after five custom ones.
    static var warmUpRound: String {
        """
        SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 5)));
        SELECT count(*) FROM trellis.start_run('plan-dag', '{}');
        \(apiCalls)
        \(String(repeating: claimAndComplete, count: 4))
        SELECT count(*) FROM trellis.start_run('plan-flat', '{}');
        SELECT jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'retryable', false,
                                            'error', jsonb_build_object('code', 'boom', 'message', 'planned'))) AS failures
        FROM trellis.claim_nodes(:id, ARRAY['echo'], 100, '30 seconds') \\gset
        SELECT count(*) FROM trellis.fail_nodes(:id, :'failures');
        SELECT count(*) FROM trellis.heartbeat(:id, '{}', '{}', '30 seconds');
        \(periodicCalls)
        """
    }

    /// Operator calls an API server makes from its pooled sessions: cancel a run that is
    /// under way, retry the newest failed run (its new run is drained by the claims after).
    static let apiCalls = """
        SELECT run_id AS doomed FROM trellis.start_run('plan-dag', '{}') \\gset
        SELECT trellis.cancel_run(:'doomed', 'admin', 'planned');
        SELECT count(*) FROM (SELECT r.id FROM trellis.workflow_runs r WHERE r.status = 'failed'
                              ORDER BY r.created_at DESC LIMIT 1) f
        CROSS JOIN LATERAL trellis.retry_run(f.id);

        """

    /// What a scheduler calls besides claims and results: progress of a held node (one
    /// more run, claimed and finished around it), lease reclaims, approval expiries,
    /// due schedules, retention.
    static let periodicCalls = """
        SELECT count(*) FROM trellis.start_run('plan-flat', '{}');
        SELECT jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'kind', 'progress', 'percent', 50, 'message', 'half')) AS updates,
               jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'output', jsonb_build_object('ok', true))) AS results
        FROM trellis.claim_nodes(:id, ARRAY['echo'], 100, '30 seconds') \\gset
        SELECT count(*) FROM trellis.report_progress(:id, :'updates');
        SELECT count(*) FROM trellis.complete_nodes(:id, :'results');
        SELECT * FROM trellis.reclaim_expired(100);
        SELECT trellis.expire_approvals(100);
        SELECT * FROM trellis.fire_due_schedules(100);
        SELECT trellis.apply_retention(:id, 500);

        """

    /// One claim of up to 100 nodes and their results.
    static let claimAndComplete = """
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'output', jsonb_build_object('ok', true))), '[]') AS results
        FROM trellis.claim_nodes(:id, ARRAY['echo'], 100, '30 seconds') \\gset
        SELECT count(*) FROM trellis.complete_nodes(:id, :'results');

        """

    /// The scheduler's calls, as a scheduler makes them, under auto_explain (psql prints
    /// each plan as a NOTICE on stderr), after `before` in the same session. A DAG run of
    /// a higher priority goes first, so its root settles in the first completion (moving
    /// its dependents) and its middle nodes in the second.
    static func script(before: String) -> String {
        """
        \\set ON_ERROR_STOP on
        SELECT trellis.register_scheduler('plans', ARRAY['echo'], 100, 'test', 1, 'test') AS id \\gset
        \(before)
        SELECT count(*) FROM trellis.start_run('plan-dag', '{}', 'admin', '{"priority": 10}');
        LOAD 'auto_explain';
        SET auto_explain.log_nested_statements = on;
        SET auto_explain.log_level = notice;
        SET auto_explain.log_analyze = on;
        SET auto_explain.log_timing = off;
        SET client_min_messages = notice;
        SET auto_explain.log_min_duration = 0;
        \(claimAndComplete)\(claimAndComplete)\(apiCalls)        SELECT jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'retryable', false,
                                            'error', jsonb_build_object('code', 'boom', 'message', 'planned'))) AS failures
        FROM trellis.claim_nodes(:id, ARRAY['echo'], 100, '30 seconds') \\gset
        SELECT count(*) FROM trellis.fail_nodes(:id, :'failures');
        SELECT array_agg(node_run_id) AS held, array_agg(attempt) AS attempts FROM trellis.claim_nodes(:id, ARRAY['echo'], 50, '30 seconds') \\gset
        SELECT count(*) FROM trellis.heartbeat(:id, :'held', :'attempts', '30 seconds');
        \(periodicCalls)
        SELECT count(*) FROM trellis.start_runs('plan-flat', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 10)));
        SELECT count(*) FROM trellis.start_run('plan-flat', '{}');
        """
    }

    static let psql = ["/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/psql"

    /// Runs a psql script in one session and returns the plans auto_explain printed (as
    /// NOTICEs on stderr), one per statement; the script must succeed.
    static func plans(of script: String, url: String) throws -> [Substring] {
        Array(try psqlStderr(of: script, url: url).components(separatedBy: "NOTICE:  duration:").dropFirst().map { Substring($0) })
    }

    /// Runs a psql script in one session and returns what it printed on stderr (server
    /// messages, `\warn` lines, in order); the script must succeed.
    static func psqlStderr(of script: String, url: String) throws -> String {
        let scriptFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-plans-\(UUID().uuidString).sql")
        defer { try? FileManager.default.removeItem(at: scriptFile) }
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        let output = try TrellisBinary.run(["-X", "-q", "-d", url, "-f", scriptFile.path], binary: URL(fileURLWithPath: psql))
        #expect(output.status == 0, "psql: \(output.stderr.suffix(2_000))")
        return output.stderr
    }

    static func checkPlans(_ url: String, before: String = "") throws {
        let plans = try plans(of: script(before: before), url: url)
        #expect(plans.count > 30, "auto_explain printed \(plans.count) plans")

        let wholeScan = try Regex(#"Seq Scan on (node_runs|node_attempts|run_events)\b"#)
        for plan in plans {
            #expect(plan.firstMatch(of: wholeScan) == nil, "a whole-table scan in the hot path:\n\(plan)")
        }
        // Work independent of the backlog: no step of any statement reads more rows than ten
        // batches (a scan over the 100,000 queued runs or ready nodes shows up here).
        let rowCount = try Regex(#"\(actual rows=(\d+) loops=(\d+)\)"#)
        for plan in plans {
            let most = plan.matches(of: rowCount).compactMap { match in
                Int(match.output[1].substring ?? "").flatMap { rows in Int(match.output[2].substring ?? "").map { rows * $0 } }
            }.max() ?? 0
            #expect(most <= 1_000, "a step reads \(most) rows, more than ten batches:\n\(plan)")
        }
        let picks = plans.filter { $0.contains("SKIP LOCKED") && $0.contains("ORDER BY n.priority DESC") }
        #expect(picks.count == 5, "one pick per claim")
        let readyScan = try Regex(#"Index Scan using node_runs_ready_idx on node_runs \w+ +\(cost=[^)]*\) \(actual rows=(\d+) loops=1\)"#)
        for pick in picks {
            #expect(!pick.contains("Sort") && !pick.contains("Bitmap"), "the pick must walk the ready index in order:\n\(pick)")
            let rows = pick.firstMatch(of: readyScan).flatMap { Int($0.output[1].substring ?? "") }
            #expect(rows != nil && rows! <= 100, "the ordered walk must stop at the limit (100):\n\(pick)")
        }
    }
}
