import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// A gate and a work node side by side, both open at once.
private let racing = """
    {"name": "racing", "nodes": [
      {"key": "work", "kind": "tool_call", "handler": "echo"},
      {"key": "gate", "kind": "human_gate", "prompt": "go?"},
      {"key": "done", "kind": "join", "mode": "all"}],
     "edges": [{"from": "work", "to": "done"}, {"from": "gate", "to": "done"}]}
    """

/// Every transition locks run → node → approval, so control operations, decisions and
/// the reclaimer racing on the same runs never deadlock.
@Suite("One lock order")
struct LockOrderTests {
    @Test func cancelDecideExpireAndReclaimRaceWithoutDeadlocks() async throws {
        try await TestDatabase.withMigrated { db in
            let runs: [UUID] = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: racing, as: "admin")
                let principals = PrincipalStore(connection: conn)
                try await principals.create("approver", as: "admin")
                try await principals.grant("approve", on: "racing", to: "approver", as: "admin")
                let driver = try await Driver.make(conn)
                var runs: [UUID] = []
                for _ in 0..<100 { runs.append(try await driver.store.start("racing", as: "admin").runID) }
                _ = try await driver.claim(max: 100)
                // Every work node's lease has lapsed; half the gates are past their expiry too.
                try await conn.query("UPDATE trellis.node_runs SET lease_expires_at = now() - interval '1 second' WHERE status = 'running'")
                try await conn.query("""
                    UPDATE trellis.approvals SET expires_at = now() - interval '1 second'
                    WHERE run_id IN (SELECT id FROM trellis.workflow_runs ORDER BY id LIMIT 50)
                    """)
                return runs
            }
            let approvals: [UUID: UUID] = try await db.withConnection { conn in
                Dictionary(uniqueKeysWithValues: try await ApprovalStore(connection: conn).list(limit: 1000).map { ($0.runID, $0.id) })
            }
            // Three connections race over the same runs in different orders.
            func deadlocks(_ body: @escaping @Sendable (PGConnection) async throws -> Void) -> Task<[String], Never> {
                Task {
                    var seen: [String] = []
                    do {
                        try await PGConnection.withConnection(db.url) { conn in
                            try await conn.execute(script: "SET deadlock_timeout = '10ms'")
                            do { try await body(conn) } catch let error as PGError where error.sqlState == "40P01" { seen.append(error.description) }
                        }
                    } catch {
                        seen.append("setup: \(error)")
                    }
                    return seen
                }
            }
            let order = runs
            let cancels = deadlocks { conn in
                for run in order {
                    do { _ = try await RunStore(connection: conn).control(.cancel, run: run, as: "admin") } catch let error as PGError where error.sqlState == "TR409" {}
                }
            }
            let decisions = deadlocks { conn in
                for run in order.reversed() {
                    guard let approval = approvals[run] else { continue }
                    do {
                        _ = try await ApprovalStore(connection: conn).decide(approval, .approve, as: "approver")
                    } catch let error as PGError where error.sqlState == "TR409" {}
                }
            }
            let reclaims = deadlocks { conn in
                for _ in 0..<20 {
                    _ = try await SchedulerStore(connection: conn).reclaimExpired(max: 7)
                    _ = try await ApprovalStore(connection: conn).expireDue(max: 7)
                }
            }
            let seen = await cancels.value + decisions.value + reclaims.value
            #expect(seen.isEmpty, "\(seen)")
            try await db.withConnection { conn in
                // Every run ended up in a consistent state: finished, or still open with nothing running.
                let stuck = try await conn.query("""
                    SELECT count(*) AS n FROM trellis.node_runs n JOIN trellis.workflow_runs r ON r.id = n.run_id
                    WHERE r.finished_at IS NOT NULL AND n.status IN ('ready', 'running', 'waiting', 'pending', 'held')
                    """).single().decode("n", as: Int.self)
                #expect(stuck == 0)
            }
        }
    }
}
