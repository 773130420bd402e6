import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

@Suite("Leases, heartbeats and reclaim")
struct LeaseTests {
    @Test func expiredLeaseIsReclaimedAndTheStaleResultRefused() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let dead = try await Driver.make(conn, name: "dead")
            let alive = try await Driver.make(conn, name: "alive")
            let run = try await dead.store.start("linear-pipeline", input: #"{"record": 1}"#, as: "admin").runID
            let lostClaim = try #require(try await dead.claim().first)

            #expect(try await alive.scheduling.reclaimExpired() == 0)  // lease still valid
            #expect(try await dead.scheduling.heartbeat(scheduler: dead.scheduler, holding: [.init(lostClaim.nodeRunID, attempt: 1)]).isEmpty)
            try await conn.query("UPDATE trellis.node_runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [lostClaim.nodeRunID])
            #expect(try await alive.scheduling.reclaimExpired() == 1)
            // linear-pipeline retries with a 1 s initial delay: make it due.
            try await conn.query("UPDATE trellis.node_runs SET ready_at = now() WHERE id = $1", [lostClaim.nodeRunID])
            let retry = try #require(try await alive.claim().first)
            #expect(retry.nodeRunID == lostClaim.nodeRunID)
            #expect(retry.attempt == 2)

            // The presumed-dead scheduler wakes up: its heartbeat says the node is gone, its result is refused.
            #expect(try await dead.scheduling.heartbeat(scheduler: dead.scheduler, holding: [.init(lostClaim.nodeRunID, attempt: 1)]) == [lostClaim.nodeRunID])
            let late = try await dead.scheduling.complete(scheduler: dead.scheduler, [.init(id: lostClaim.nodeRunID, attempt: 1, output: .string("late"))])
            #expect(late[0].accepted == false)
            let done = try await alive.scheduling.complete(scheduler: alive.scheduler, [.init(id: retry.nodeRunID, attempt: 2, output: .string("ok"))])
            #expect(done[0].accepted)
            try await alive.drain()
            #expect(try await alive.store.run(run).status == "succeeded")
            let outcomes = try await conn.query(
                "SELECT outcome FROM trellis.node_attempts WHERE node_run_id = $1 ORDER BY attempt", [lostClaim.nodeRunID]
            ).rows.map { try $0.decode("outcome", as: String.self) }
            #expect(outcomes == ["lost", "succeeded"])
        }
    }

    @Test func gracefulStopReleasesHeldNodesWithoutSpendingAttempts() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let leaving = try await Driver.make(conn, name: "leaving")
            let staying = try await Driver.make(conn, name: "staying")
            let run = try await leaving.store.start("linear-pipeline", input: "{}", as: "admin").runID
            let held = try #require(try await leaving.claim().first)
            #expect(try await leaving.scheduling.stopScheduler(leaving.scheduler) == 1)
            await #expect(throws: PGError.self) { _ = try await leaving.claim() }
            let again = try #require(try await staying.claim().first)
            #expect(again.nodeRunID == held.nodeRunID)
            try await staying.scheduling.complete(scheduler: staying.scheduler, [.init(id: again.nodeRunID, attempt: again.attempt, output: .null)])
                .forEach { #expect($0.accepted) }
            try await staying.drain()
            #expect(try await staying.store.run(run).status == "succeeded")
        }
    }
}
