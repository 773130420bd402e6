import Foundation
import Testing
import TrellisPQ
import TrellisTestSupport

@Suite("Connection pool")
struct ConnectionPoolTests {
    /// A pooled connection whose backend is terminated while it sits idle (a database
    /// restart, pg_terminate_backend, an idle-session timeout) must not fail the next call
    /// that borrows it: under the chaos run, a scheduler's artifact store failed a node's
    /// attempts that way three times running.
    @Test func anIdleConnectionTerminatedByTheServerIsReplacedNotHandedOut() async throws {
        try await TestDatabase.withEmpty { db in
            let pool = ConnectionPool(url: db.url, capacity: 1, applicationName: "pool test")
            let first = try await pool.withConnection { try await $0.backendPID() }
            try await PGConnection.withConnection(db.url) { admin in
                #expect(try await admin.query("SELECT pg_terminate_backend($1) AS done", [Int(first)]).single().decode("done", as: Bool.self))
                try await waitUntil(timeout: .seconds(10), "the backend to be gone") {
                    try await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1", [Int(first)])
                        .single().decode("n", as: Int.self) == 0
                }
            }
            let second = try await pool.withConnection { conn in
                (try await conn.backendPID(), try await conn.query("SELECT 41 + 1 AS answer").single().decode("answer", as: Int.self))
            }
            #expect(second.1 == 42)
            #expect(second.0 != first)
            // A healthy idle connection is reused, not replaced.
            let third = try await pool.withConnection { try await $0.backendPID() }
            #expect(third == second.0)
            await pool.close()
        }
    }
}
