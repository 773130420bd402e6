import Foundation
import Testing
import TrellisPQ
import TrellisTestSupport

/// Pipeline mode: several statements in one round trip, as one transaction.
@Suite("Pipeline")
struct PGPipelineTests {
    @Test func statementsRunInOrderAndCommitTogether() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url)
            try await conn.execute(script: "CREATE TABLE t (id int PRIMARY KEY, v text)")
            let results = try await conn.pipeline([
                .init("INSERT INTO t VALUES ($1, $2)", [1, "one"]),
                .init("INSERT INTO t VALUES ($1, $2)", [2, "two"]),
                .init("SELECT count(*) AS n, txid_current() AS tx FROM t"),
                .init("SELECT txid_current() AS tx"),
            ])
            #expect(results.count == 4)
            #expect(try results[2].single().decode("n", as: Int.self) == 2)
            // One transaction: the same transaction id seen by two statements.
            #expect(try results[2].single().decode("tx", as: Int64.self) == results[3].single().decode("tx", as: Int64.self))
            await conn.close()
        }
    }

    @Test func aFailingStatementKeepsNothingAndTheConnectionGoesOn() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url)
            try await conn.execute(script: "CREATE TABLE t (id int PRIMARY KEY)")
            let error = await #expect(throws: PGError.self) {
                _ = try await conn.pipeline([
                    .init("INSERT INTO t VALUES ($1)", [1]),
                    .init("INSERT INTO t VALUES ($1)", [1]),
                    .init("INSERT INTO t VALUES ($1)", [2]),
                ])
            }
            #expect(error?.sqlState == "23505")
            #expect(try await conn.query("SELECT count(*) AS n FROM t").single().decode("n", as: Int.self) == 0)
            // Out of pipeline mode, usable, and a later pipeline works.
            _ = try await conn.pipeline([.init("INSERT INTO t VALUES ($1)", [3])])
            #expect(try await conn.query("SELECT count(*) AS n FROM t").single().decode("n", as: Int.self) == 1)
            await conn.close()
        }
    }

    @Test func aBackendKilledMidPipelineIsAConnectionError() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url)
            let pid = try await conn.backendPID()
            let killer = try await PGConnection.connect(db.url)
            let task = Task {
                try await conn.pipeline([.init("SELECT pg_sleep(10)"), .init("SELECT 1 AS one")])
            }
            try await waitUntil(timeout: .seconds(10), "the pipeline's sleep to run") {
                try await killer.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND query = 'SELECT pg_sleep(10)'",
                                       [Int(pid)]).single().decode("n", as: Int.self) == 1
            }
            _ = try await killer.query("SELECT pg_terminate_backend($1)", [Int(pid)])
            let error = await #expect(throws: PGError.self) { _ = try await task.value }
            #expect(error?.kind == .connectionClosed || error?.sqlState == "57P01", "\(String(describing: error))")
            await killer.close()
        }
    }
}
