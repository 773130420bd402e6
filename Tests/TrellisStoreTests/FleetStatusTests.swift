import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// trellis.fleet_status's counts, read through the indexes that keep it cheap: open runs by
/// status (workflow_runs_open_idx) and the last hour's failed and lost attempts
/// (node_attempts_trouble_idx over trouble_at, which successes leave NULL).
@Suite("Fleet status counts")
struct FleetStatusTests {
    @Test func countsOpenRunsAndTheLastHoursTroubledAttempts() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let driver = try await OneNodeRuns.start("fleet-flat", count: 5, conn)
                let claims = try await driver.claim(max: 3)
                #expect(claims.count == 3)
                // One succeeds, one fails for good, one is lost with its scheduler.
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claims[0].nodeRunID, attempt: claims[0].attempt, output: .object([:]))])
                _ = try await driver.scheduling.fail(scheduler: driver.scheduler, [.init(id: claims[1].nodeRunID, attempt: claims[1].attempt,
                                                                                          error: .init(code: "boom", message: "no"), retryable: false)])
                #expect(try await driver.scheduling.stopScheduler(driver.scheduler) == 1)

                let status = try await FleetStore(connection: conn).status(as: "admin").decode(JSONValue.self)
                #expect(status["last_hour"]?["lost_leases"] == .number(1), "\(status)")
                #expect(status["last_hour"]?["failed_attempts"] == .number(1), "\(status)")
                #expect(status["runs"]?["queued"] == .number(2), "never claimed: \(status)")
                #expect(status["runs"]?["running"] == .number(1), "the lost one's run, its node ready again: \(status)")
                let trouble = try await conn.query("SELECT count(*) AS n FROM trellis.node_attempts WHERE trouble_at IS NOT NULL").single()
                #expect(try trouble.decode("n", as: Int.self) == 2)
            }
        }
    }
}
