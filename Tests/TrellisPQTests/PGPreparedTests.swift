import Foundation
import Testing
import TrellisPQ
import TrellisTestSupport

/// Named prepared statements of a session (queryPrepared, pipeline statements marked prepared).
@Suite("Prepared statements")
struct PGPreparedTests {
    static func preparedCount(_ conn: PGConnection) async throws -> Int {
        try await conn.query("SELECT count(*) AS n FROM pg_prepared_statements").single().decode("n")
    }

    @Test func preparedOnceAndAnsweredLikeAnUnnamedStatement() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url)
            let sql = "SELECT $1::int + 1 AS n, $2::text AS t"
            for value in 1...3 {
                let prepared = try await conn.queryPrepared(sql, [value, "x'; DROP TABLE t; --"]).single()
                let plain = try await conn.query(sql, [value, "x'; DROP TABLE t; --"]).single()
                #expect(try prepared.decode("n", as: Int.self) == value + 1)
                #expect(try prepared.decode("t", as: String.self) == plain.decode("t", as: String.self))
            }
            #expect(try await Self.preparedCount(conn) == 1)
            _ = try await conn.pipeline([.init(sql, [5, "y"], prepared: true), .init("SELECT 1 AS one", prepared: true)])
            #expect(try await Self.preparedCount(conn) == 2, "the pipeline's first statement was prepared already")
            // A refused statement is an error like any other, and the session goes on.
            let error = await #expect(throws: PGError.self) { try await conn.queryPrepared(sql, ["not a number", "z"]) }
            #expect(error?.sqlState == "22P02")
            #expect(try await conn.queryPrepared(sql, [9, "z"]).single().decode("n", as: Int.self) == 10)
            await conn.close()
        }
    }

    /// A migration that replaces a function with another result type (DROP, CREATE) makes
    /// PostgreSQL refuse the prepared statement (0A000, "cached plan must not change result
    /// type"): it is prepared again and the call goes through, alone or in a pipeline.
    @Test func aStatementWhoseResultTypeChangedIsPreparedAgain() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url)
            let other = try await PGConnection.connect(db.url)
            try await conn.execute(script: "CREATE FUNCTION f(x int) RETURNS TABLE (a int) LANGUAGE sql AS 'SELECT x'")
            let sql = "SELECT * FROM f($1)"
            #expect(try await conn.queryPrepared(sql, [1]).single().decode("a", as: Int.self) == 1)
            _ = try await conn.pipeline([.init(sql, [2], prepared: true)])
            try await other.execute(script: """
                DROP FUNCTION f(int);
                CREATE FUNCTION f(x int) RETURNS TABLE (a int, b text) LANGUAGE sql AS 'SELECT x, ''new''';
                """)
            let row = try await conn.queryPrepared(sql, [3]).single()
            #expect(try row.decode("a", as: Int.self) == 3 && row.decode("b", as: String.self) == "new")
            try await other.execute(script: """
                DROP FUNCTION f(int);
                CREATE FUNCTION f(x int) RETURNS TABLE (c text) LANGUAGE sql AS 'SELECT ''third'' || x';
                """)
            let results = try await conn.pipeline([.init("SELECT 1 AS one"), .init(sql, [4], prepared: true)])
            #expect(try results[1].single().decode("c", as: String.self) == "third4")
            await other.close()
            await conn.close()
        }
    }
}
