import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Run ids are UUIDv7 (migration 0028): the time they were made leads them, so a new run's
/// entries go to the right-hand edge of the indexes its id leads instead of a random page.
@Suite("Run ids")
struct RunIDTests {
    private static let pair = """
        {"name": "pair", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"},
                                   {"key": "b", "kind": "tool_call", "handler": "echo"}],
         "edges": [{"from": "a", "to": "b"}]}
        """

    /// Checks what RFC 9562 asks of a version 7 id whose run was created between `from` and
    /// `to` (Unix milliseconds, the database's clock): the version, the variant, the time.
    private static func expectVersion7(_ id: UUID, madeBetween from: Int64, and to: Int64) {
        let hex = id.uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        #expect(hex[hex.index(hex.startIndex, offsetBy: 12)] == "7", "version nibble of \(id)")
        #expect("89ab".contains(hex[hex.index(hex.startIndex, offsetBy: 16)]), "variant bits of \(id)")
        let millis = Int64(hex.prefix(12), radix: 16) ?? -1
        #expect(millis >= from && millis <= to, "\(id) says \(millis), made between \(from) and \(to)")
    }

    private static func nowMillis(_ conn: PGConnection) async throws -> Int64 {
        try await conn.query("SELECT floor(date_part('epoch', clock_timestamp()) * 1000)::bigint AS ms").single().decode("ms", as: Int64.self)
    }

    @Test func everyStartMakesTimeOrderedIDs() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.pair, as: "admin")
                let store = RunStore(connection: conn)
                let before = try await Self.nowMillis(conn)
                let one = try await store.start("pair", as: "admin").runID
                let batch = try await store.start("pair", inputs: Array(repeating: "{}", count: 200), as: "admin").map(\.runID)
                _ = try await conn.query("SELECT pg_sleep(0.005)")
                let later = try await store.start("pair", inputs: ["{}", "{}"], as: "admin").map(\.runID)
                let after = try await Self.nowMillis(conn)
                #expect(Set([one] + batch + later).count == 203)
                for id in [one] + batch + later { Self.expectVersion7(id, madeBetween: before, and: after) }
                // Five milliseconds apart, every later id sorts after every earlier one, in
                // PostgreSQL's order of uuids (byte by byte), which the indexes use.
                let ordered = try await conn.query("SELECT bool_and(e < l) AS ok FROM unnest($1::uuid[]) e, unnest($2::uuid[]) l",
                                                   [[one] + batch, later]).single().decode("ok", as: Bool.self)
                #expect(ordered)
                // A row inserted without an id (as the history fixtures do) gets one too.
                let defaulted = try await conn.query("""
                    SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef
                    WHERE adrelid = 'trellis.workflow_runs'::regclass
                      AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'trellis.workflow_runs'::regclass AND attname = 'id')
                    """).single().decode("d", as: String.self)
                #expect(defaulted.hasSuffix("uuid_v7()"), "\(defaulted)")
            }
        }
    }

    /// Upgrading keeps the random ids of the runs there are: they drain, new runs get
    /// time-ordered ids beside them, and nothing is rewritten.
    @Test func runsMadeBeforeTheUpgradeKeepTheirIDsAndFinish() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await OlderSchema.migrate(conn, upTo: 27)
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.pair, as: "admin")
                let driver = try await Driver.make(conn)
                let old = try await driver.store.start("pair", inputs: ["{}", "{}", "{}"], as: "admin").map(\.runID)
                #expect(old.allSatisfy { $0.uuidString.replacingOccurrences(of: "-", with: "").lowercased()
                        .dropFirst(12).first == "4" })
                let claimed = try await driver.claim(max: 2)
                #expect(claimed.count == 2)
                let heap = try await conn.query("SELECT pg_relation_filenode('trellis.workflow_runs') AS f").single().decode("f", as: Int64.self)

                let report = try await Migrator(connection: conn).up()
                #expect(report.appliedMigrations.map(\.name).starts(with: ["0028_time_ordered_run_ids.sql"]), "\(report.appliedMigrations.map(\.name))")
                #expect(try await conn.query("SELECT pg_relation_filenode('trellis.workflow_runs') AS f").single().decode("f", as: Int64.self) == heap)

                let before = try await Self.nowMillis(conn)
                let new = try await driver.store.start("pair", inputs: ["{}", "{}"], as: "admin").map(\.runID)
                let after = try await Self.nowMillis(conn)
                for id in new { Self.expectVersion7(id, madeBetween: before, and: after) }
                // The claims made before the upgrade are reported after it; then all drain.
                try await driver.complete(claimed)
                _ = try await driver.drain()
                for run in old + new {
                    #expect(try await driver.store.run(run).status == "succeeded")
                }
                let events = try await conn.query("""
                    SELECT count(*) AS n FROM trellis.run_events WHERE run_id = ANY($1::uuid[]) AND type = 'node.finished'
                    """, [old + new]).single().decode("n", as: Int.self)
                #expect(events == 10)
            }
        }
    }
}
