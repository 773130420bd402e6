import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// Migrations 0023 and 0024 on a database that already holds runs and attempts (upgraded
/// from 0022, not created fresh): started, unfinished runs of a workflow with a run limit
/// take their slots, nothing else does, and the attempts already failed or lost count in
/// fleet_status's last hour through the new trouble_at column.
@Suite("Heap-only migrations on existing data")
struct HeapOnlyUpgradeTests {
    @Test func slotsAndTroubleAreFilledInForExistingRows() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let upTo0022 = try SQLCatalogue(files: SQLCatalogue.embedded.migrations.filter { $0.version <= 22 }.map(\.file))
                _ = try await Migrator(connection: conn, catalogue: upTo0022).up()
                // Rows as 0022's schema holds them, written directly (keys off: no graph needed).
                try await conn.execute(script: """
                    SET session_replication_role = replica;
                    INSERT INTO trellis.workflows (name, max_concurrent_runs) VALUES ('limited', 2), ('free', NULL);
                    INSERT INTO trellis.workflow_versions (workflow_id, version, definition, checksum)
                    SELECT id, 1, '{}', 'x' FROM trellis.workflows;
                    INSERT INTO trellis.workflow_runs (id, workflow_id, version_id, status, started_at, finished_at)
                    SELECT r.id::uuid, w.id, v.id, r.status, r.started_at::timestamptz, r.finished_at::timestamptz
                    FROM (VALUES ('00000000-0000-0000-0000-000000000001', 'limited', 'running', now()::text, NULL),
                                 ('00000000-0000-0000-0000-000000000002', 'limited', 'paused', now()::text, NULL),
                                 ('00000000-0000-0000-0000-000000000003', 'limited', 'queued', NULL, NULL),
                                 ('00000000-0000-0000-0000-000000000004', 'limited', 'succeeded', now()::text, now()::text),
                                 ('00000000-0000-0000-0000-000000000005', 'free', 'running', now()::text, NULL))
                         AS r(id, workflow, status, started_at, finished_at)
                    JOIN trellis.workflows w ON w.name = r.workflow JOIN trellis.workflow_versions v ON v.workflow_id = w.id;
                    INSERT INTO trellis.node_attempts (node_run_id, run_id, attempt, outcome, started_at, finished_at)
                    VALUES (1, '00000000-0000-0000-0000-000000000001', 1, 'lost', now(), now()),
                           (2, '00000000-0000-0000-0000-000000000001', 1, 'failed', now(), now()),
                           (3, '00000000-0000-0000-0000-000000000004', 1, 'succeeded', now(), now()),
                           (4, '00000000-0000-0000-0000-000000000005', 1, 'running', now(), NULL),
                           (5, '00000000-0000-0000-0000-000000000004', 1, 'timed_out', now() - interval '2 hours', now() - interval '2 hours');
                    SET session_replication_role = origin;
                    """)
                let report = try await Migrator(connection: conn).up()
                #expect(report.appliedMigrations.map(\.name).starts(with: ["0023_heap_only_run_start.sql", "0024_heap_only_attempt_end.sql"]), "\(report.appliedMigrations.map(\.name))")

                let slots = try await conn.query("SELECT id::text AS id FROM trellis.workflow_runs WHERE holds_slot ORDER BY id").rows
                    .map { try $0.decode("id", as: String.self) }
                #expect(slots == ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"],
                        "started and open runs of the limited workflow only")
                #expect(try await WorkflowStore(connection: conn).limits("limited").activeRuns == 2)
                let trouble = try await conn.query("SELECT outcome FROM trellis.node_attempts WHERE trouble_at IS NOT NULL ORDER BY outcome").rows
                    .map { try $0.decode("outcome", as: String.self) }
                #expect(trouble == ["failed", "lost", "timed_out"])
                let status = try await FleetStore(connection: conn).status(as: "admin").decode(JSONValue.self)
                #expect(status["last_hour"]?["lost_leases"] == .number(1), "\(status)")
                #expect(status["last_hour"]?["failed_attempts"] == .number(1), "the timed-out one is two hours old: \(status)")
                #expect(status["runs"]?["running"] == .number(2) && status["runs"]?["paused"] == .number(1) && status["runs"]?["queued"] == .number(1),
                        "\(status)")
                let fillfactors = try await conn.query("""
                    SELECT relname, reloptions::text AS options FROM pg_class
                    WHERE oid IN ('trellis.workflow_runs'::regclass, 'trellis.node_attempts'::regclass) ORDER BY relname
                    """).rows.map { try "\($0.decode("relname", as: String.self)) \($0.decode("options", as: String.self))" }
                #expect(fillfactors == ["node_attempts {fillfactor=50}", "workflow_runs {fillfactor=50}"])
            }
        }
    }
}
