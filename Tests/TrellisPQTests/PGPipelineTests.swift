import Foundation
import Testing
import CLibPQ
@testable import TrellisPQ
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

    /// A connection left in pipeline mode with results it can never read (what a backend
    /// terminated mid-pipeline can leave: leaving pipeline mode then fails) is lost for
    /// every later call, so its owner opens a new one; before, each call failed at once as
    /// a refused statement and the owner kept the connection forever.
    @Test func aConnectionStuckInPipelineModeReadsAsLost() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url)
            let stuck = try await conn.withHandle { handle -> Bool in
                guard PQenterPipelineMode(handle) == 1, PQsendQueryParams(handle, "SELECT 1", 0, nil, nil, nil, nil, 0) == 1 else { return false }
                return PQexitPipelineMode(handle) == 0  // a result not read: it cannot leave
            }
            #expect(stuck)
            let error = await #expect(throws: PGError.self) { _ = try await conn.query("SELECT 2 AS two") }
            #expect(error?.isConnectionLoss == true, "\(String(describing: error))")
            let pooled = ConnectionPool(url: db.url, capacity: 1)
            // A healthy connection is unaffected: the same query on a fresh one answers.
            #expect(try await pooled.withConnection { try await $0.query("SELECT 2 AS two").single().decode("two", as: Int.self) } == 2)
            await pooled.close()
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
            #expect(error?.isConnectionLoss == true, "\(String(describing: error))")
            // The connection reads as lost from then on — never as a statement refused for
            // being left in pipeline mode, which a chaos run's scheduler lane took for a
            // failed pass, every five seconds, without ever reconnecting.
            let after = await #expect(throws: PGError.self) { _ = try await conn.query("SELECT 1 AS one") }
            #expect(after?.isConnectionLoss == true, "\(String(describing: after))")
            let again = await #expect(throws: PGError.self) { _ = try await conn.pipeline([.init("SELECT 1 AS one")]) }
            #expect(again?.isConnectionLoss == true, "\(String(describing: again))")
            await conn.close()
            await killer.close()
        }
    }
}
