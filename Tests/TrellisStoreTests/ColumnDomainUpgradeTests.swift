import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// Migration 0027 (one-column CHECKs become domains) on a database that already holds
/// runs: the tables are kept as they are (no rewrite), the views it drops come back with
/// their base types, the runs go on, and a bad value is refused by the constraint name it
/// had before.
@Suite("Column domains on existing data")
struct ColumnDomainUpgradeTests {
    @Test func upgradingKeepsTheTablesTheViewsAndTheRuns() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await OlderSchema.migrate(conn, upTo: 26)
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "pair", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"},
                                               {"key": "b", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "a", "to": "b"}]}
                    """, as: "admin")
                let driver = try await Driver.make(conn)
                let runs = try await driver.store.start("pair", inputs: ["{}", "{}", "{}"], as: "admin").map(\.runID)
                let claimed = try await driver.claim(max: 1)
                #expect(claimed.count == 1)
                func files() async throws -> [String] {
                    try await conn.query("""
                        SELECT relname || ':' || pg_relation_filenode(oid) AS f FROM pg_class
                        WHERE relnamespace = 'trellis'::regnamespace
                          AND relname IN ('node_runs', 'workflow_runs', 'node_runs_pkey', 'workflow_runs_pkey', 'node_runs_unique_item')
                        ORDER BY relname
                        """).rows.map { try $0.decode("f", as: String.self) }
                }
                let before = try await files()

                let report = try await Migrator(connection: conn).up()
                #expect(report.appliedMigrations.map(\.name).starts(with: ["0027_column_checks_as_domains.sql"]), "\(report.appliedMigrations.map(\.name))")
                let after = try await files()
                // PostgreSQL builds the partial indexes over status again (it does not compare
                // predicates when it keeps an index); the tables and their other indexes stay.
                #expect(after == before, "no table was rewritten")
                let types = try await conn.query("""
                    SELECT string_agg(table_name || '.' || column_name || ' ' || data_type, ', ' ORDER BY table_name, column_name) AS t
                    FROM information_schema.columns
                    WHERE table_schema = 'trellis' AND table_name IN ('node_history', 'run_history', 'run_chains', 'attempt_history')
                      AND column_name IN ('status', 'attempts', 'item_index')
                    """).single().decode("t", as: String.self)
                #expect(types == "attempt_history.item_index integer, node_history.attempts integer, node_history.item_index integer, "
                               + "node_history.status text, run_chains.status text, run_history.attempts bigint, run_history.status text")
                let statuses = try await conn.query("SELECT status || ':' || count(*) AS s FROM trellis.node_history GROUP BY status ORDER BY status")
                    .rows.map { try $0.decode("s", as: String.self) }
                #expect(statuses == ["pending:3", "ready:2", "running:1"])

                // The claimed node finishes and the rest drain on the upgraded schema.
                let first = try #require(claimed.first)
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: first.nodeRunID, attempt: first.attempt, output: .object([:]))])
                try await driver.drain()
                for run in runs {
                    #expect(try await driver.store.run(run).status == "succeeded")
                }
                let error = await #expect(throws: PGError.self) {
                    try await conn.query("UPDATE trellis.node_runs SET attempt = -1 WHERE run_id = $1", [runs[0]])
                }
                #expect(error?.sqlState == SQLState.checkViolation)
                #expect(error?.constraint == "node_runs_attempt_nonnegative")
            }
        }
    }
}
