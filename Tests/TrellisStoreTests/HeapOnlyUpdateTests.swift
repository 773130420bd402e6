import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The hot path's updates that stay heap-only — no new entry in any index of the table:
/// a run's start (its first claim rewrites the run row's status, started_at and event
/// counter; migration 0023) and an attempt's successful end (outcome, finished_at, cost;
/// migration 0024), and a waiting node's countdown of its upstream nodes (migration 0029).
/// No index names those columns and the tables keep room on their pages. Read from the
/// server's own per-transaction counters while the transaction is open.
@Suite("Heap-only updates")
struct HeapOnlyUpdateTests {
    @Test func aBatchOfRunsStartsWithoutTouchingTheRunIndexes() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let driver = try await OneNodeRuns.start("hot-flat", count: 100, conn)
                let (updated, hot) = try await conn.withTransaction { conn in
                    let claims = try await driver.claim(max: 100)
                    #expect(claims.count == 100)
                    return try await OneNodeRuns.updates(of: "trellis.workflow_runs", conn)
                }
                #expect(updated == 100, "one update per started run")
                // Half of each page is kept free (fillfactor 50), and a started row is a few bytes
                // longer than a queued one (started_at): the last row of a full page may not
                // fit beside its siblings' new versions. Any index naming a changed column
                // would make this 0.
                #expect(hot >= 90, "(nearly) every start heap-only: \(hot) of \(updated)")
                let running = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs WHERE status = 'running' AND NOT holds_slot")
                #expect(try running.single().decode("n", as: Int.self) == 100, "runs of an unlimited workflow hold no slot")
            }
        }
    }

    @Test func aBatchOfSuccessesEndsItsAttemptsWithoutTouchingTheAttemptIndexes() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let driver = try await OneNodeRuns.start("hot-flat", count: 100, conn)
                let claims = try await driver.claim(max: 100)
                #expect(claims.count == 100)
                let (updated, hot) = try await conn.withTransaction { conn in
                    let reports = try await driver.complete(claims)
                    #expect(reports.allSatisfy { $0.accepted })
                    return try await OneNodeRuns.updates(of: "trellis.node_attempts", conn)
                }
                #expect(updated == 100, "one update per ended attempt")
                #expect(hot >= 90, "(nearly) every success heap-only: \(hot) of \(updated)")
                // Failures still reach the index fleet_status counts (FleetStatusTests); successes do not.
                let trouble = try await conn.query("SELECT count(*) AS n FROM trellis.node_attempts WHERE trouble_at IS NOT NULL").single()
                #expect(try trouble.decode("n", as: Int.self) == 0)
            }
        }
    }

    private static let fanIn = """
        {"name": "fan-in", "nodes": [
          {"key": "root", "kind": "tool_call", "handler": "echo"},
          {"key": "left", "kind": "tool_call", "handler": "echo"},
          {"key": "right", "kind": "tool_call", "handler": "echo"},
          {"key": "merge", "kind": "tool_call", "handler": "echo"}],
         "edges": [{"from": "root", "to": "left"}, {"from": "root", "to": "right"},
                   {"from": "left", "to": "merge"}, {"from": "right", "to": "merge"}]}
        """

    /// A node waiting for two upstream nodes counts the first one down in place: its status
    /// stays pending, so no index sees the change, and its page has room (fillfactor 70,
    /// once the versions its siblings' claims left behind are pruned).
    @Test func aFanInNodeCountsItsUpstreamNodesDownWithoutTouchingTheNodeIndexes() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                // Room comes back when a page's dead versions are pruned, which an open
                // snapshot in this database holds off — such as an automatic ANALYZE of the
                // tables this test fills, whose timing the suite's load moves. So no
                // automatic ANALYZE here, and a VACUUM prunes before the count.
                for table in ["node_runs", "workflow_runs", "node_attempts", "run_events"] {
                    _ = try await conn.query("ALTER TABLE trellis.\(table) SET (autovacuum_enabled = false)")
                }
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.fanIn, as: "admin")
                let driver = try await Driver.make(conn)
                _ = try await conn.query("SELECT count(*) FROM trellis.start_runs('fan-in', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 100)))")
                func finish(_ claims: [SchedulerStore.Claim]) async throws {
                    let reports = try await driver.complete(claims)
                    #expect(reports.count == claims.count && reports.allSatisfy { $0.accepted })
                }
                let roots = try await driver.claim(max: 200)
                #expect(roots.count == 100 && roots.allSatisfy { $0.nodeKey == "root" })
                try await finish(roots)
                let middle = try await driver.claim(max: 400)
                #expect(middle.count == 200)
                _ = try await conn.query("VACUUM trellis.node_runs")
                let (updated, hot) = try await conn.withTransaction { conn in
                    // The counters also hold earlier transactions' updates not yet reported.
                    let earlier = try await OneNodeRuns.updates(of: "trellis.node_runs", conn)
                    try await finish(middle.filter { $0.nodeKey == "left" })
                    let now = try await OneNodeRuns.updates(of: "trellis.node_runs", conn)
                    return (now.all - earlier.all, now.heapOnly - earlier.heapOnly)
                }
                // 100 lefts settle (running → succeeded: a status the indexes name) and 100
                // merges count down from 2 to 1.
                #expect(updated == 200, "\(updated)")
                // 100 here; at fillfactor 100, 58 (the room the pruned versions left).
                #expect(hot >= 95, "(nearly) every countdown heap-only: \(hot) of \(updated)")
                let waiting = try await conn.query("""
                    SELECT count(*) AS n FROM trellis.node_runs WHERE node_key = 'merge' AND status = 'pending' AND remaining_deps = 1
                    """).single().decode("n", as: Int.self)
                #expect(waiting == 100)
            }
        }
    }

    /// A claim changes a node's status, which the ready and lease indexes name, so it is
    /// never heap-only; but where its page has room the new version goes beside the old one
    /// instead of extending the table.
    @Test func aClaimedNodeStaysOnItsPage() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let driver = try await OneNodeRuns.start("hot-page", count: 200, conn)
                func pages() async throws -> [Int64: Int64] {
                    let rows = try await conn.query("SELECT id, (ctid::text::point)[0]::bigint AS page FROM trellis.node_runs").rows
                    return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.decode("id", as: Int64.self), try $0.decode("page", as: Int64.self)) })
                }
                let before = try await pages()
                let claims = try await driver.claim(max: 200)
                #expect(claims.count == 200)
                let after = try await pages()
                // A claimed row is longer (attempt, lease, claimant) and a claim takes every
                // row of a page at once: the 30 % kept free holds about a third of them (72 of
                // 200 here); at fillfactor 100 none.
                let stayed = before.filter { after[$0.key] == $0.value }.count
                #expect(stayed >= 50, "\(stayed) of 200 claimed nodes kept their page")
            }
        }
    }
}
