import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The analyst role's boundaries and retention (prune_runs / HistoryStore.prune).
@Suite("History access and retention")
struct RetentionAndAccessTests {
    @Test func analystReadsTheViewsAndNothingElse() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await HistoryFixture.load(conn, runs: 60)
            }
            try await db.withLogin(inRole: "trellis_analyst") { url in
                try await PGConnection.withConnection(url) { analyst in
                    for view in ["run_history", "node_history", "attempt_history", "approval_history", "scheduler_stats"] {
                        let count = try await analyst.query("SELECT count(*) AS n FROM trellis.\(view)").single().decode("n", as: Int.self)
                        #expect(count > 0, "\(view)")
                    }
                    let stats = try await analyst.query("SELECT * FROM trellis.workflow_stats('2026-01-01', '2026-03-01')").rows
                    #expect(stats.count == 3)

                    let refused = [
                        "SELECT * FROM trellis.workflow_runs",
                        "SELECT * FROM trellis.run_events",
                        "UPDATE trellis.workflow_runs SET priority = 9",
                        "DELETE FROM trellis.node_runs",
                        "INSERT INTO trellis.principals (name) VALUES ('eve')",
                        "SELECT trellis.start_run('alpha', '{}', 'admin', '{}')",
                        "SELECT trellis.cancel_run(gen_random_uuid(), 'admin', 'x')",
                        "SELECT * FROM trellis.prune_runs('1d', 10, 'admin')",
                    ]
                    for statement in refused {
                        let error = await #expect(throws: PGError.self, "\(statement)") { try await analyst.query(statement) }
                        #expect(error?.sqlState == "42501", "\(statement): \(String(describing: error))")
                    }
                    // The views are not updatable at all (55000), whoever asks.
                    let viewWrite = await #expect(throws: PGError.self) { try await analyst.query("DELETE FROM trellis.run_history") }
                    #expect(viewWrite?.sqlState == "55000")
                }
                try await db.withConnection { conn in
                    let runs = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
                    #expect(runs == 60, "nothing was written")
                }
            }
        }
    }

    static func counts(_ p: HistoryStore.Pruned) -> [Int] { [p.runs, p.nodeRuns, p.attempts, p.events, p.approvals] }

    /// Counts of what belongs to runs matching `filter` (a WHERE over workflow_runs r).
    static func census(_ conn: PGConnection, _ filter: String) async throws -> HistoryStore.Pruned {
        let row = try await conn.query("""
            WITH v AS (SELECT r.id FROM trellis.workflow_runs r WHERE \(filter))
            SELECT (SELECT count(*) FROM v) AS runs,
                   (SELECT count(*) FROM trellis.node_runs WHERE run_id IN (SELECT id FROM v)) AS node_runs,
                   (SELECT count(*) FROM trellis.node_attempts WHERE run_id IN (SELECT id FROM v)) AS attempts,
                   (SELECT count(*) FROM trellis.run_events WHERE run_id IN (SELECT id FROM v)) AS events,
                   (SELECT count(*) FROM trellis.approvals WHERE run_id IN (SELECT id FROM v)) AS approvals
            """).single()
        var pruned = HistoryStore.Pruned()
        pruned.runs = try row.decode("runs")
        pruned.nodeRuns = try row.decode("node_runs")
        pruned.attempts = try row.decode("attempts")
        pruned.events = try row.decode("events")
        pruned.approvals = try row.decode("approvals")
        return pruned
    }

    @Test func pruneRemovesExactlyOldFinishedRunsAndIsIdempotent() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let fixture = try await HistoryFixture.load(conn, runs: 600, seed: 3)
                // Events for every generated run, so the log is pruned too.
                try await conn.execute(script: """
                    INSERT INTO trellis.run_events (run_id, seq, type, data)
                    SELECT r.id, g, 'run.note', '{}' FROM trellis.workflow_runs r, generate_series(1, 3) g;
                    UPDATE trellis.workflow_runs SET last_seq = 3;
                    """)
                // Recent runs, through the engine.
                _ = try await Seeder(connection: conn).load(as: "admin")
                let store = RunStore(connection: conn)
                var recent: [UUID] = []
                for _ in 0..<5 { recent.append(try await store.start("linear-pipeline", as: "admin").runID) }
                let driver = try await Driver.make(conn)
                try await driver.drain()

                let old = "r.finished_at < now() - interval '30 days'"
                let expected = try await Self.census(conn, old)
                let kept = try await Self.census(conn, "NOT coalesce(\(old), false)")
                #expect(expected.runs == fixture.runs.filter { $0.durationMS != nil }.count)
                #expect(expected.events > 0 && expected.approvals > 0 && expected.attempts > 0)

                let history = HistoryStore(connection: conn)
                let preview = try await history.prunePreview(olderThan: "30d", as: "admin")
                #expect(Self.counts(preview)
                    == Self.counts(expected))
                #expect(try await Self.census(conn, old).runs == expected.runs, "a dry run removes nothing")

                var batches = 0
                let pruned = try await history.prune(olderThan: "30d", batch: 100, as: "admin") { _ in batches += 1 }
                #expect(Self.counts(pruned)
                    == Self.counts(expected))
                #expect(batches == (expected.runs + 99) / 100)
                #expect(try await Self.census(conn, old).runs == 0)
                let after = try await Self.census(conn, "true")
                #expect(Self.counts(after)
                    == Self.counts(kept), "everything else is kept")
                let attempts = try await conn.query("SELECT count(*) AS n FROM trellis.node_attempts").single().decode("n", as: Int.self)
                #expect(attempts == kept.attempts, "no attempt outlives its run")
                // Old but unfinished runs, and the recent runs, are still there.
                let open = fixture.runs.filter { $0.durationMS == nil }.map(\.id)
                let remaining = Set(try await conn.query("SELECT id FROM trellis.workflow_runs").rows.map { try $0.decode("id", as: UUID.self) })
                #expect(remaining == Set(open + recent))
                let votes = try await conn.query("SELECT count(*) AS n FROM trellis.approval_decisions d LEFT JOIN trellis.approvals a ON a.id = d.approval_id WHERE a.id IS NULL").single()
                #expect(try votes.decode("n", as: Int.self) == 0, "votes went with their approvals")

                let again = try await history.prune(olderThan: "30d", as: "admin")
                #expect(again.runs == 0 && again.events == 0, "idempotent")
            }
        }
    }

    @Test func pruneRefusesBadInputAndOutsiders() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await HistoryFixture.load(conn, runs: 30)
                let history = HistoryStore(connection: conn)
                let cases: [(() async throws -> Void, String, String)] = [
                    ({ _ = try await history.prune(olderThan: "30x", as: "admin") }, "22023",
                     #"older-than must be a positive duration like 30d, 12h or 90m, got "30x""#),
                    ({ _ = try await history.prune(olderThan: "0d", as: "admin") }, "22023", #"got "0d""#),
                    ({ _ = try await history.prunePreview(olderThan: "soon", as: "admin") }, "22023", #"got "soon""#),
                    ({ _ = try await history.prune(olderThan: "1d", batch: 0, as: "admin") }, "22023", "batch must be 1 to 10000 runs, got 0"),
                    ({ _ = try await history.prune(olderThan: "1d", as: "alice") }, "42501",
                     #"principal "alice" may not prune run history (administrators only)"#),
                    ({ _ = try await history.stats(since: "a week") }, "22023", #"since must be a positive duration like 30d, 12h or 90m, got "a week""#),
                ]
                for (call, code, message) in cases {
                    let error = await #expect(throws: PGError.self) { try await call() }
                    #expect(error?.sqlState == code)
                    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
                }
                let runs = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
                #expect(runs == 30, "nothing was removed")
            }
        }
    }
}
