import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The hot path's updates that stay heap-only — no new entry in any index of the table:
/// a run's start (its first claim rewrites the run row's status, started_at and event
/// counter; migration 0023) and an attempt's successful end (outcome, finished_at, cost;
/// migration 0024). No index names those columns and the tables keep room on their pages.
/// Read from the server's own per-transaction counters while the transaction is open.
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
                    let reports = try await driver.scheduling.complete(
                        scheduler: driver.scheduler, claims.map { .init(id: $0.nodeRunID, attempt: $0.attempt, output: .object([:])) })
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
}
