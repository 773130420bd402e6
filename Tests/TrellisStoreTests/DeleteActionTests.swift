import Foundation
import Testing
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// What the foreign keys' ON DELETE actions did before migrations 0022 and 0025 dropped the
/// keys from the hot path, the statement triggers do: deleting runs deletes their attempts
/// and node runs, deleting a scheduler clears the references to it, and a principal who
/// started runs cannot be deleted.
@Suite("Delete actions without foreign keys (SQL)")
struct DeleteActionTests {
    static func count(_ conn: PGConnection, _ sql: String, _ parameters: [(any PGEncodable)?] = []) async throws -> Int {
        try await conn.query(sql, parameters).single().decode("n", as: Int.self)
    }

    @Test func deletingRunsDeletesTheirAttemptsAndNothingElse() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let gone = try await driver.store.start("linear-pipeline", as: "admin").runID
            let kept = try await driver.store.start("linear-pipeline", as: "admin").runID
            try await driver.drain()
            let attempts = "SELECT count(*) AS n FROM trellis.node_attempts WHERE run_id = $1::uuid"
            let before = try await Self.count(conn, attempts, [kept])
            #expect(try await Self.count(conn, attempts, [gone]) > 0 && before > 0)

            let nodes = "SELECT count(*) AS n FROM trellis.node_runs WHERE run_id = $1::uuid"
            let nodesKept = try await Self.count(conn, nodes, [kept])
            #expect(try await Self.count(conn, nodes, [gone]) > 0 && nodesKept > 0)

            try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1::uuid", [gone])
            #expect(try await Self.count(conn, attempts, [gone]) == 0)
            #expect(try await Self.count(conn, attempts, [kept]) == before)
            #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.node_attempts") == before, "no attempt is left without its run")
            #expect(try await Self.count(conn, nodes, [gone]) == 0)
            #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.node_runs") == nodesKept, "no node run is left without its run")
        }
    }

    @Test func aPrincipalWhoStartedRunsCannotBeDeleted() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let principals = PrincipalStore(connection: conn)
            try await principals.create("starter", as: "admin")
            try await principals.create("idle", as: "admin")
            try await conn.query("SELECT trellis.grant_privilege('linear-pipeline', 'starter', 'run', 'admin')")
            _ = try await RunStore(connection: conn).start("linear-pipeline", as: "starter")
            let refused = await #expect(throws: PGError.self) {
                try await conn.query("DELETE FROM trellis.principals WHERE name IN ('idle', 'starter')")
            }
            #expect(refused?.sqlState == SQLState.foreignKeyViolation)
            #expect(refused?.message.contains(#"principal "starter" started runs"#) == true, "\(String(describing: refused))")
            #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.principals WHERE name IN ('idle', 'starter')") == 2,
                    "nothing deleted")
            try await conn.query("DELETE FROM trellis.principals WHERE name = 'idle'")
            #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.principals WHERE name = 'idle'") == 0)
        }
    }

    @Test func deletingASchedulerClearsItsReferencesAndKeepsItsName() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let doomed = try await Driver.make(conn, name: "doomed")
            let other = try await Driver.make(conn, name: "other")
            _ = try await doomed.store.start("linear-pipeline", as: "admin")
            let held = try #require(try await doomed.claim().first)
            _ = try await other.store.start("linear-pipeline", as: "admin")
            #expect(try await other.claim().count == 1)

            try await conn.query("DELETE FROM trellis.schedulers WHERE id = $1::bigint", [doomed.scheduler])
            let node = try await conn.query("SELECT scheduler_id, claimed_by FROM trellis.node_runs WHERE id = $1::bigint",
                                            [held.nodeRunID]).single()
            #expect(try node.decodeIfPresent("scheduler_id", as: Int64.self) == nil)
            #expect(try node.decode("claimed_by", as: String.self) == "doomed")
            let attempt = try await conn.query("SELECT scheduler_id, scheduler_name FROM trellis.node_attempts WHERE node_run_id = $1::bigint",
                                               [held.nodeRunID]).single()
            #expect(try attempt.decodeIfPresent("scheduler_id", as: Int64.self) == nil)
            #expect(try attempt.decode("scheduler_name", as: String.self) == "doomed")
            #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.node_attempts WHERE scheduler_id = $1::bigint",
                                         [other.scheduler]) == 1, "other schedulers' references stay")
        }
    }
}
