import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Retention policies (per workflow and a default) applied by trellis.apply_retention.
@Suite("Retention policies")
struct RetentionPolicyTests {
    static func definition(_ name: String) -> String {
        #"{"name": "\#(name)", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}]}"#
    }

    static func count(_ conn: PGConnection, _ sql: String, _ params: [(any PGEncodable)?] = []) async throws -> Int {
        try await conn.query(sql, params).single().decode("n")
    }

    @Test func removesExactlyWhatThePoliciesSayAndNothingElse() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                for name in ["keep-three", "by-age"] {
                    _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition(name), as: "admin")
                }
                let driver = try await Driver.make(conn)
                let store = HistoryStore(connection: conn)
                // Ten finished runs each, then two left queued in keep-three.
                for name in ["keep-three", "by-age"] {
                    _ = try await driver.store.start(name, inputs: (0..<10).map { #"{"i": \#($0)}"# }, as: "admin")
                }
                try await driver.drain()
                _ = try await driver.store.start("keep-three", inputs: ["{}", "{}"], as: "admin")
                // Ages: run i of each workflow was created (and finished a second later) i * 10 days and an hour ago.
                try await conn.query("""
                    UPDATE trellis.workflow_runs r
                    SET created_at = now() - make_interval(days => 10 * (r.input ->> 'i')::int, hours => 1),
                        finished_at = now() - make_interval(days => 10 * (r.input ->> 'i')::int, hours => 1) + interval '1 second'
                    WHERE r.finished_at IS NOT NULL
                    """)
                #expect(try await store.setRetention(nil, keepDays: 30, keepRuns: nil, as: "admin")
                        == .init(keepDays: 30, keepRuns: nil, source: "default"))
                #expect(try await store.setRetention("keep-three", keepDays: nil, keepRuns: 3, as: "admin")
                        == .init(keepDays: nil, keepRuns: 3, source: "workflow"))
                #expect(try await store.retention(of: "by-age") == .init(keepDays: 30, keepRuns: nil, source: "default"))

                let scheduler = driver.scheduler
                var removed = 0
                for _ in 0..<10 {
                    let batch = try await driver.scheduling.applyRetention(scheduler: scheduler, max: 4)
                    removed += batch
                    if batch == 0 { break }
                }
                // keep-three: its own policy only (the default's 30 days do not apply): the newest three finished.
                // by-age: runs 0–2 finished less than 30 days ago; run 3 a little more.
                let left = try await conn.query("""
                    SELECT w.name, array_agg((r.input ->> 'i')::int ORDER BY (r.input ->> 'i')::int) FILTER (WHERE r.finished_at IS NOT NULL) AS finished,
                           count(*) FILTER (WHERE r.finished_at IS NULL) AS open
                    FROM trellis.workflow_runs r JOIN trellis.workflows w ON w.id = r.workflow_id GROUP BY w.name ORDER BY w.name
                    """).rows
                let finished = try Dictionary(uniqueKeysWithValues: left.map { (try $0.decode("name", as: String.self), try $0.decode("finished", as: [Int].self)) })
                #expect(finished == ["by-age": [0, 1, 2], "keep-three": [0, 1, 2]])
                #expect(try left.first { try $0.decode("name", as: String.self) == "keep-three" }?.decode("open", as: Int.self) == 2)
                #expect(removed == 14)
                // Nothing of a removed run is left behind.
                #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.run_events e WHERE NOT EXISTS (SELECT 1 FROM trellis.workflow_runs r WHERE r.id = e.run_id)") == 0)
                #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.node_runs") == 8)
                #expect(try await Self.count(conn, "SELECT count(*) AS n FROM trellis.node_attempts") == 6)
                #expect(try await Self.count(conn, "SELECT pruned_runs::int AS n FROM trellis.scheduler_stats WHERE scheduler_id = $1", [scheduler]) == 14)
                // Clearing keep-three's policy brings the default back for it.
                #expect(try await store.setRetention("keep-three", keepDays: nil, keepRuns: nil, as: "admin").source == "default")
            }
        }
    }

    @Test func oneInstanceAtATimeAndRefusals() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition("w"), as: "admin")
                let driver = try await Driver.make(conn)
                _ = try await driver.store.start("w", inputs: ["{}", "{}", "{}"], as: "admin")
                try await driver.drain()
                let store = HistoryStore(connection: conn)
                _ = try await store.setRetention("w", keepDays: nil, keepRuns: 1, as: "admin")
                // Another instance holds the retention lock: this one does nothing and does not wait.
                try await db.withConnection { other in
                    try await other.query("SELECT pg_advisory_lock(1953261940, 1)")
                    #expect(try await driver.scheduling.applyRetention(scheduler: driver.scheduler) == 0)
                    try await other.query("SELECT pg_advisory_unlock(1953261940, 1)")
                }
                #expect(try await driver.scheduling.applyRetention(scheduler: driver.scheduler) == 2)

                _ = try await conn.query("SELECT trellis.create_principal('ops', 'user')")
                _ = try await PrincipalStore(connection: conn).grant("run", on: "w", to: "ops", as: "admin")
                let notAdmin = await #expect(throws: PGError.self) { try await store.setRetention("w", keepDays: 7, keepRuns: nil, as: "ops") }
                #expect(notAdmin?.sqlState == "42501")
                let notDefault = await #expect(throws: PGError.self) { try await store.setRetention(nil, keepDays: 7, keepRuns: nil, as: "ops") }
                #expect(notDefault?.sqlState == "42501")
                let zero = await #expect(throws: PGError.self) { try await store.setRetention("w", keepDays: 0, keepRuns: nil, as: "admin") }
                #expect(zero?.sqlState == "22023")
                let unknown = await #expect(throws: PGError.self) { try await store.setRetention("nope", keepDays: 7, keepRuns: nil, as: "admin") }
                #expect(unknown?.sqlState == "TR404")
                #expect(try await store.retention(of: "w") == .init(keepDays: nil, keepRuns: 1, source: "workflow"), "unchanged by the refusals")
            }
        }
    }
}
