import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// End-to-end: `trellis history`, `trellis prune` and `trellis sql` of the built binary.
@Suite("trellis history/prune/sql (binary)")
struct HistoryCLITests {
    /// Two linear-pipeline runs through the SQL engine: one succeeds, one fails at `transform`.
    func makeHistory(_ conn: PGConnection) async throws -> (ok: UUID, failed: UUID) {
        _ = try await Seeder(connection: conn).load(as: "admin")
        let store = RunStore(connection: conn)
        let ok = try await store.start("linear-pipeline", input: #"{"record": {"id": 1}}"#, as: "admin").runID
        let failed = try await store.start("linear-pipeline", input: #"{"record": {"id": 2}}"#, as: "admin").runID
        let scheduling = SchedulerStore(connection: conn)
        let scheduler = try await scheduling.registerScheduler(name: "cli-test", handlers: ["echo"])
        while true {
            let claims = try await scheduling.claim(scheduler: scheduler, handlers: ["echo"], max: 10)
            if claims.isEmpty { break }
            for claim in claims {
                if claim.runID == failed && claim.nodeKey == "transform" {
                    _ = try await scheduling.fail(scheduler: scheduler, [.init(
                        id: claim.nodeRunID, attempt: claim.attempt, error: .init(code: "bad_record", message: "record 2, is broken"),
                        retryable: false)])
                } else {
                    _ = try await scheduling.complete(scheduler: scheduler, [.init(
                        id: claim.nodeRunID, attempt: claim.attempt, output: try claim.input.decode(JSONValue.self), cost: 0.25)])
                }
            }
        }
        return (ok, failed)
    }

    @Test func historyCommandsPrintTablesJSONAndCSV() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            let (_, failed) = try await db.withConnection { try await makeHistory($0) }

            let stats = try TrellisBinary.run(["history", "stats", "--format", "json"] + url)
            #expect(stats.status == 0, "\(stats.stderr)")
            let rows = try JSONDecoder().decode([[String: JSONValue]].self, from: Data(stats.stdout.utf8))
            let pipeline = try #require(rows.first { $0["workflow"] == .string("linear-pipeline") })
            #expect(pipeline["runs"] == .number(2))
            #expect(pipeline["succeeded"] == .number(1))
            #expect(pipeline["failed"] == .number(1))
            #expect(pipeline["success_rate"] == .number(0.5))
            #expect(pipeline["most_failing_node"] == .string("transform"))
            #expect(pipeline["total_cost"] == .number(1))  // three successes and one more of 0.25 each

            let table = try TrellisBinary.run(["history", "stats", "--workflow", "linear-pipeline"] + url)
            #expect(table.stdout.hasPrefix("WORKFLOW         VERSION  RUNS  SUCCEEDED  FAILED"), "\(table.stdout)")
            #expect(table.stdout.split(separator: "\n").count == 2)

            let failures = try TrellisBinary.run(["history", "failures", "--format", "csv"] + url)
            let lines = failures.stdout.split(separator: "\r\n")
            #expect(lines.first == "finished_at,workflow,version,run_id,node_key,item_index,attempts,error_code,error_message")
            #expect(lines.count == 2)
            #expect(lines.last?.contains(",linear-pipeline,1,\(failed.uuidString.lowercased()),transform,,1,bad_record,\"record 2, is broken\"") == true,
                    "\(failures.stdout)")

            let slowest = try TrellisBinary.run(["history", "slowest", "--limit", "1"] + url)
            #expect(slowest.stdout.split(separator: "\n").count == 2)

            let bad = try TrellisBinary.run(["history", "stats", "--since", "soon"] + url)
            #expect(bad.status == 1)
            #expect(bad.stderr == "Error: since must be a positive duration like 30d, 12h or 90m, got \"soon\" (SQLSTATE 22023)\n")
            let badFormat = try TrellisBinary.run(["history", "stats", "--format", "xml"] + url)
            #expect(badFormat.status != 0)
            #expect(badFormat.stderr.contains("--format"))
        }
    }

    @Test func pruneAndSQL() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            try await db.withConnection { conn in
                _ = try await makeHistory(conn)
                _ = try await PrincipalStore(connection: conn).create("carol", as: "admin")
            }
            let nothing = try TrellisBinary.run(["prune", "--older-than", "30d", "--dry-run"] + url)
            #expect(nothing.stdout.hasPrefix("would remove 0 run(s), 0 node run(s), 0 attempt(s), 0 event(s), 0 approval(s)"), "\(nothing.stdout)")
            try await db.withConnection { conn in
                try await conn.query("UPDATE trellis.workflow_runs SET finished_at = finished_at - interval '40 days', created_at = created_at - interval '40 days'")
            }
            let outsider = try TrellisBinary.run(["prune", "--older-than", "30d", "--as", "carol"] + url)
            #expect(outsider.status == 1)
            #expect(outsider.stderr == "Error: principal \"carol\" may not prune run history (administrators only) (SQLSTATE 42501)\n")
            let preview = try TrellisBinary.run(["prune", "--older-than", "30d", "--dry-run"] + url)
            #expect(preview.stdout.hasPrefix("would remove 2 run(s), 6 node run(s), 5 attempt(s), "), "\(preview.stdout)")
            let pruned = try TrellisBinary.run(["prune", "--older-than", "30d"] + url)
            #expect(pruned.status == 0, "\(pruned.stderr)")
            #expect(pruned.stdout.hasPrefix("removed 2 run(s), 6 node run(s), 5 attempt(s), "), "\(pruned.stdout)")
            let again = try TrellisBinary.run(["prune", "--older-than", "30d"] + url)
            #expect(again.stdout.hasPrefix("removed 0 run(s)"))
            let badBatch = try TrellisBinary.run(["prune", "--older-than", "30d", "--batch", "0"] + url)
            #expect(badBatch.status != 0)
            #expect(badBatch.stderr.contains("--batch must be 1 to 10000"))

            let printed = try TrellisBinary.run(["sql", "--print-url"] + url)
            #expect(printed.stdout == db.url + "\n")
            let psql = try TrellisBinary.run(["sql"] + url + ["--", "-tAc", "SELECT count(*) FROM trellis.run_history"])
            #expect(psql.status == 0, "\(psql.stderr)")
            #expect(psql.stdout == "0\n")
        }
    }
}
