import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

@Suite("Schema rules")
struct SchemaTests {
    /// Inserts a principal, a workflow and one published version; returns the version id.
    private func publishFixture(_ conn: PGConnection) async throws -> Int64 {
        try await conn.query("""
            WITH p AS (INSERT INTO trellis.principals (name) VALUES ('alice') RETURNING id),
                 w AS (INSERT INTO trellis.workflows (name, owner_id) SELECT 'demo', id FROM p RETURNING id)
            INSERT INTO trellis.workflow_versions (workflow_id, version, definition, checksum, author_id)
            SELECT w.id, 1, '{"name": "demo"}', 'abc', p.id FROM w, p
            RETURNING id
            """).single().decode("id")
    }

    /// Inserts a queued run of the fixture's version, bypassing start_run; returns its id.
    private func insertRun(_ conn: PGConnection, version: Int64) async throws -> UUID {
        try await conn.query("""
            INSERT INTO trellis.workflow_runs (workflow_id, version_id)
            SELECT workflow_id, id FROM trellis.workflow_versions WHERE id = $1 RETURNING id
            """, [version]).single().decode("id", as: UUID.self)
    }

    @Test func publishedVersionsAreImmutable() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let id = try await publishFixture(conn)
                let update = await #expect(throws: PGError.self) {
                    try await conn.query("UPDATE trellis.workflow_versions SET definition = '{}' WHERE id = $1", [id])
                }
                #expect(update?.sqlState == "TR001")
                #expect(update?.message.contains("workflow_versions is immutable") == true)
                let delete = await #expect(throws: PGError.self) {
                    try await conn.query("DELETE FROM trellis.workflow_versions WHERE id = $1", [id])
                }
                #expect(delete?.sqlState == "TR001")
                let definition = try await conn.query("SELECT definition FROM trellis.workflow_versions WHERE id = $1", [id])
                    .single().decode("definition", as: PGJSON.self)
                #expect(definition.text == #"{"name": "demo"}"#)
            }
        }
    }

    @Test func eventLogIsAppendOnly() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let version = try await publishFixture(conn)
                let run = try await insertRun(conn, version: version)
                try await conn.query("INSERT INTO trellis.run_events (run_id, seq, type) VALUES ($1, 1, 'run.queued')", [run])
                let error = await #expect(throws: PGError.self) {
                    try await conn.query("UPDATE trellis.run_events SET type = 'run.started' WHERE run_id = $1", [run])
                }
                #expect(error?.sqlState == "TR001")
                // Retention removes whole runs, and their events with them (a statement
                // trigger since migration 0013 dropped the foreign key) — only theirs.
                let kept = try await insertRun(conn, version: version)
                try await conn.query("INSERT INTO trellis.run_events (run_id, seq, type) VALUES ($1, 1, 'run.queued'), ($1, 2, 'run.started')", [kept])
                try await conn.query("INSERT INTO trellis.run_events (run_id, seq, type) VALUES ($1, 2, 'run.started')", [run])
                try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1", [run])
                let left = try await conn.query("SELECT run_id FROM trellis.run_events").rows.map { try $0.decode("run_id", as: UUID.self) }
                #expect(left == [kept, kept])
            }
        }
    }

    @Test func constraintsRejectBadRows() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let badStatus = await #expect(throws: PGError.self) {
                    try await conn.query("INSERT INTO trellis.principals (name, kind) VALUES ('bob', 'robot')")
                }
                #expect(badStatus?.sqlState == SQLState.checkViolation)
                #expect(badStatus?.constraint == "principals_kind_check")
                let badName = await #expect(throws: PGError.self) {
                    try await conn.query("INSERT INTO trellis.workflows (name) VALUES ($1)", ["has spaces; DROP"])
                }
                #expect(badName?.constraint == "workflows_name_format")
                // History is protected: a principal who authored a version cannot be deleted.
                _ = try await publishFixture(conn)
                let restricted = await #expect(throws: PGError.self) {
                    try await conn.query("DELETE FROM trellis.principals WHERE name = 'alice'")
                }
                #expect(restricted?.sqlState == SQLState.foreignKeyViolation)
            }
        }
    }

    /// The hot tables' status lists, stored as array constants since migration 0026, still
    /// refuse what they refused as IN lists — each by its own name — and accept every
    /// status the engine writes.
    @Test func statusListsRejectUnknownStatuses() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let version = try await publishFixture(conn)
                let run = try await insertRun(conn, version: version)
                let node = try await conn.query("""
                    WITH n AS (INSERT INTO trellis.workflow_nodes (version_id, key, kind, handler, position)
                               VALUES ($1, 'a', 'tool_call', 'echo', 0) RETURNING id)
                    INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler)
                    SELECT $2, v.workflow_id, n.id, 'a', 'tool_call', 'echo' FROM n, trellis.workflow_versions v WHERE v.id = $1
                    RETURNING id
                    """, [version, run]).single().decode("id", as: Int64.self)
                try await conn.query("INSERT INTO trellis.node_attempts (node_run_id, run_id, attempt) VALUES ($1, $2, 1)", [node, run])
                let refusals: [(String, String)] = [
                    ("UPDATE trellis.workflow_runs SET status = 'done' WHERE id = $1", "workflow_runs_status_check"),
                    ("UPDATE trellis.workflow_runs SET status = 'succeeded' WHERE id = $1", "workflow_runs_finished_iff_terminal"),
                    ("UPDATE trellis.workflow_runs SET finished_at = now() WHERE id = $1", "workflow_runs_finished_iff_terminal"),
                    ("UPDATE trellis.node_runs SET status = 'Running' WHERE run_id = $1", "node_runs_status_check"),
                    ("UPDATE trellis.node_attempts SET outcome = 'ok' WHERE run_id = $1", "node_attempts_outcome_check"),
                ]
                for (statement, constraint) in refusals {
                    let error = await #expect(throws: PGError.self) { try await conn.query(statement, [run]) }
                    #expect(error?.sqlState == SQLState.checkViolation, "\(statement)")
                    #expect(error?.constraint == constraint, "\(statement)")
                }
                try await conn.query("UPDATE trellis.workflow_runs SET status = 'cancelled', finished_at = now() WHERE id = $1", [run])
                try await conn.query("UPDATE trellis.node_runs SET status = 'skipped' WHERE run_id = $1", [run])
                try await conn.query("UPDATE trellis.node_attempts SET outcome = 'input_required' WHERE run_id = $1", [run])
            }
        }
    }

    @Test func createsTheDatabaseRoles() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let roles = try await conn.query(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'trellis\\_%' ORDER BY rolname"
                ).rows.map { try $0.decode("rolname", as: String.self) }
                #expect(roles == ["trellis_admin", "trellis_analyst", "trellis_scheduler"])
                let canPublish = try await conn.query(
                    "SELECT has_function_privilege('trellis_admin', 'trellis.publish_workflow(jsonb, text)', 'EXECUTE') AS ok"
                ).single().decode("ok", as: Bool.self)
                #expect(canPublish)
            }
        }
    }
}
