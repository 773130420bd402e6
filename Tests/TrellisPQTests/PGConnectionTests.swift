import Foundation
import Testing
import CLibPQ
@testable import TrellisPQ
import TrellisTestSupport

@Suite("PGConnection against a real PostgreSQL")
struct PGConnectionTests {
    @Test func bindsParametersIncludingNullsUnicodeAndHostileStrings() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await conn.execute(script: "CREATE TABLE notes (id int PRIMARY KEY, body text, extra text)")
                let hostile = "'; DROP TABLE notes; --"
                let unicode = "naïve — 日本語 🚀 \"quoted\" \\ backslash\nnewline"
                try await conn.query("INSERT INTO notes VALUES ($1, $2, $3)", [1, hostile, nil])
                try await conn.query("INSERT INTO notes VALUES ($1, $2, $3)", [2, unicode, String?.none])
                let rows = try await conn.query("SELECT id, body, extra FROM notes ORDER BY id").rows
                #expect(rows.count == 2)
                #expect(try rows[0].decode("body", as: String.self) == hostile)
                #expect(try rows[1].decode("body", as: String.self) == unicode)
                #expect(try rows[0].decodeIfPresent("extra", as: String.self) == nil)
                #expect(rows[1]["extra"] == nil)
                // The table survived the hostile string.
                let count = try await conn.query("SELECT count(*) AS n FROM notes").single().decode("n", as: Int.self)
                #expect(count == 2)
            }
        }
    }

    /// Session settings reach the server (values with spaces escaped), and a statement past
    /// statement_timeout is cut off with 57014; a running statement can be cancelled.
    /// PGOPTIONS is honoured although every connection passes its own `options` (which
    /// makes libpq ignore the variable): it comes first, so the settings decoding needs
    /// and the caller's win for the same name. (The chaos run raises
    /// trellis.max_lost_leases for its fleet this way.)
    @Test func environmentOptionsAreCarriedOver() {
        #expect(PGConnection.options(["statement_timeout": "5s", "search_path": "a b"], environment: "-c trellis.max_lost_leases=10")
                == #"-c trellis.max_lost_leases=10 -c DateStyle=ISO -c TimeZone=UTC -c search_path=a\ b -c statement_timeout=5s"#)
        #expect(PGConnection.options([:], environment: nil) == "-c DateStyle=ISO -c TimeZone=UTC")
        #expect(PGConnection.options([:], environment: "   ") == "-c DateStyle=ISO -c TimeZone=UTC")
    }

    @Test func sessionSettingsTimeoutsAndCancel() async throws {
        try await TestDatabase.withEmpty { db in
            let conn = try await PGConnection.connect(db.url, applicationName: "settings test",
                                                      settings: ["statement_timeout": "300ms", "search_path": "public, pg_catalog"],
                                                      tcpUserTimeoutMilliseconds: 5_000)
            #expect(try await conn.query("SHOW statement_timeout").single().decode("statement_timeout", as: String.self) == "300ms")
            #expect(try await conn.query("SHOW search_path").single().decode("search_path", as: String.self) == "public, pg_catalog")
            let slow = await #expect(throws: PGError.self) { try await conn.query("SELECT pg_sleep(5)") }
            #expect(slow?.sqlState == "57014")
            try await conn.query("SET statement_timeout = 0")
            let started = ContinuousClock.now
            let pid = try await conn.backendPID()
            let running = Task { try await conn.query("SELECT pg_sleep(30)") }
            try await PGConnection.withConnection(db.url) { watcher in
                try await waitUntil(timeout: .seconds(10), "the sleep to run on the server") {
                    try await watcher.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND query = 'SELECT pg_sleep(30)' AND state = 'active'",
                                           [Int(pid)]).single().decode("n", as: Int.self) == 1
                }
            }
            conn.cancelRunningStatement()
            let cancelled = await running.result
            #expect(throws: PGError.self) { try cancelled.get() }
            #expect(ContinuousClock.now - started < .seconds(20))
            // Capped reads keep at most maxRows rows and say so.
            let (capped, truncated) = try await conn.query("SELECT g FROM generate_series(1, 1000) g", maxRows: 5)
            #expect(capped.rows.count == 5 && truncated)
            let (whole, cut) = try await conn.query("SELECT 1 AS one", maxRows: 5)
            #expect(whole.rows.count == 1 && !cut)
            await conn.close()
        }
    }

    @Test func decodesTypedColumns() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let row = try await conn.query("""
                    SELECT 42::int4 AS i4, 9007199254740993::int8 AS i8, true AS yes, false AS no,
                           123456789012345678.123456::numeric AS money, 1.5::float8 AS f,
                           '2026-11-22 21:58:17.123456+00'::timestamptz AS ts,
                           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id,
                           '{"b": [1, 2], "a": "x"}'::jsonb AS doc,
                           ARRAY['x', 'y z', 'q"uote', 'back\\slash'] AS words,
                           ARRAY[1, 2, 3]::int8[] AS numbers,
                           '\\xdeadbeef'::bytea AS blob,
                           NULL::text AS nothing
                    """).single()
                #expect(try row.decode("i4", as: Int32.self) == 42)
                #expect(try row.decode("i8", as: Int64.self) == 9_007_199_254_740_993)
                #expect(try row.decode("yes", as: Bool.self))
                #expect(try row.decode("no", as: Bool.self) == false)
                #expect(try row.decode("money", as: Decimal.self) == Decimal(string: "123456789012345678.123456")!)
                #expect(try row.decode("f", as: Double.self) == 1.5)
                let ts = try row.decode("ts", as: Date.self)
                #expect(abs(ts.timeIntervalSince1970 - 1_795_384_697.123456) < 0.000_001)
                #expect(try row.decode("id", as: UUID.self) == UUID(uuidString: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
                let doc = try row.decode("doc", as: PGJSON.self)
                struct Doc: Decodable, Equatable { var a: String; var b: [Int] }
                #expect(try doc.decode(Doc.self) == Doc(a: "x", b: [1, 2]))
                #expect(try row.decode("words", as: [String].self) == ["x", "y z", "q\"uote", "back\\slash"])
                #expect(try row.decode("numbers", as: [Int].self) == [1, 2, 3])
                #expect(try row.decode("blob", as: Data.self) == Data([0xde, 0xad, 0xbe, 0xef]))
                #expect(try row.decodeIfPresent("nothing", as: String.self) == nil)
                #expect(throws: PGError.self) { try row.decode("nothing", as: String.self) }
                #expect(throws: PGError.self) { try row.decode("doc", as: Int.self) }
                #expect(throws: PGError.self) { try row.decode("no_such_column", as: Int.self) }
            }
        }
    }

    @Test func roundTripsEncodedValues() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let date = Date(timeIntervalSince1970: 1_700_000_000.25)
                let id = UUID()
                let row = try await conn.query(
                    "SELECT $1::timestamptz AS ts, $2::uuid AS id, $3::text[] AS tags, $4::jsonb AS doc, $5::bytea AS blob, $6::numeric AS n",
                    [date, id, ["a", "b,c", "{d}", "NULL"], try PGJSON(encoding: ["k": "v"]), Data([0, 1, 255]), Decimal(string: "0.1")!]
                ).single()
                #expect(try row.decode("ts", as: Date.self) == date)
                #expect(try row.decode("id", as: UUID.self) == id)
                #expect(try row.decode("tags", as: [String].self) == ["a", "b,c", "{d}", "NULL"])
                #expect(try row.decode("doc", as: PGJSON.self).text == #"{"k": "v"}"#)
                #expect(try row.decode("blob", as: Data.self) == Data([0, 1, 255]))
                #expect(try row.decode("n", as: Decimal.self) == Decimal(string: "0.1")!)

                // A MiB of every byte value (an artifact chunk) arrives intact.
                var random = SystemRandomNumberGenerator()
                let chunk = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) })
                let echoed = try await conn.query("SELECT $1::bytea AS blob, length($1::bytea) AS size", [chunk]).single()
                #expect(try echoed.decode("size", as: Int.self) == chunk.count)
                #expect(try echoed.decode("blob", as: Data.self) == chunk)
            }
        }
    }

    @Test func refusesNulBytesInParameters() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let error = await #expect(throws: PGError.self) {
                    try await conn.query("SELECT $1::text", ["abc\u{0}def"])
                }
                #expect(error?.kind == .encoding)
                #expect(error?.message.contains("$1") == true)
            }
        }
    }

    @Test func surfacesSQLStateAndDiagnostics() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await conn.execute(script: "CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE)")
                try await conn.query("INSERT INTO users VALUES ($1)", ["a@example.com"])
                let unique = await #expect(throws: PGError.self) {
                    try await conn.query("INSERT INTO users VALUES ($1)", ["a@example.com"])
                }
                #expect(unique?.sqlState == SQLState.uniqueViolation)
                #expect(unique?.constraint == "users_email_key")
                #expect(unique?.table == "users")
                #expect(unique?.detail?.contains("a@example.com") == true)
                #expect(unique?.description.contains("23505") == true)

                let syntax = await #expect(throws: PGError.self) { try await conn.query("SELEC 1") }
                #expect(syntax?.sqlState == SQLState.syntaxError)
                #expect(syntax?.position == 1)

                let hinted = await #expect(throws: PGError.self) {
                    try await conn.execute(script: "DO $$ BEGIN RAISE EXCEPTION 'custom' USING ERRCODE = 'TR999', HINT = 'try again'; END $$")
                }
                #expect(hinted?.sqlState == "TR999")
                #expect(hinted?.hint == "try again")
                // The connection stays usable after errors.
                #expect(try await conn.query("SELECT 1 AS one").single().decode("one", as: Int.self) == 1)
            }
        }
    }

    @Test func transactionCommitsOrRollsBack() async throws {
        struct Boom: Error {}
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await conn.execute(script: "CREATE TABLE items (name text)")
                try await conn.withTransaction { tx in
                    try await tx.query("INSERT INTO items VALUES ($1)", ["kept"])
                }
                await #expect(throws: Boom.self) {
                    try await conn.withTransaction { tx in
                        try await tx.query("INSERT INTO items VALUES ($1)", ["dropped"])
                        throw Boom()
                    }
                }
                await #expect(throws: PGError.self) {
                    try await conn.withTransaction { tx in
                        try await tx.query("INSERT INTO items VALUES ($1)", ["dropped too"])
                        try await tx.query("SELECT 1/0")
                    }
                }
                // A savepoint confines a failure to its own step.
                try await conn.withTransaction { tx in
                    try await tx.query("INSERT INTO items VALUES ($1)", ["outer"])
                    _ = try? await tx.withSavepoint { sp in
                        try await sp.query("INSERT INTO items VALUES ($1)", ["inner"])
                        try await sp.query("SELECT 1/0")
                    }
                }
                let names = try await conn.query("SELECT name FROM items ORDER BY name").rows.map { try $0.decode("name", as: String.self) }
                #expect(names == ["kept", "outer"])
            }
        }
    }

    @Test func listenReceivesNotificationsAndTimesOut() async throws {
        try await TestDatabase.withEmpty { db in
            let listener = try await db.connect()
            let sender = try await db.connect()
            try await listener.listen("run events")  // needs quoting: has a space
            #expect(try await listener.nextNotification(timeout: .milliseconds(50)) == nil)

            try await sender.notify("run events", payload: "r1:1")
            try await sender.notify("run events", payload: "r1:2")
            try await sender.notify("other", payload: "ignored")
            let first = try await listener.nextNotification(timeout: .seconds(10))
            let second = try await listener.nextNotification(timeout: .seconds(10))
            #expect(first?.channel == "run events")
            #expect(first?.payload == "r1:1")
            #expect(second?.payload == "r1:2")
            #expect(first?.senderPID == (try await sender.backendPID()))
            #expect(try await listener.nextNotification(timeout: .milliseconds(100)) == nil)

            // Notifications sent inside a transaction arrive only on commit.
            try await sender.withTransaction { tx in
                try await tx.notify("run events", payload: "r1:3")
                #expect(try await listener.nextNotification(timeout: .milliseconds(100)) == nil)
            }
            #expect(try await listener.nextNotification(timeout: .seconds(10))?.payload == "r1:3")

            try await listener.unlisten("run events")
            try await sender.notify("run events", payload: "late")
            #expect(try await listener.nextNotification(timeout: .milliseconds(100)) == nil)
            await listener.close()
            await sender.close()
        }
    }

    @Test func waitingForNotificationIsCancellable() async throws {
        try await TestDatabase.withEmpty { db in
            let listener = try await db.connect()
            try await listener.listen("nothing")
            let wait = Task { try await listener.nextNotification(timeout: .seconds(60)) }
            try await Task.sleep(for: .milliseconds(50))
            wait.cancel()
            let result = await wait.result
            #expect(throws: PGError.self) { try result.get() }
            await listener.close()
        }
    }

    @Test func lostConnectionIsReported() async throws {
        try await TestDatabase.withEmpty { db in
            let victim = try await db.connect()
            let killer = try await db.connect()
            let pid = try await victim.backendPID()
            try await killer.query("SELECT pg_terminate_backend($1)", [Int(pid)])
            let error = await #expect(throws: PGError.self) { try await victim.query("SELECT 1") }
            #expect(error?.kind == .connectionClosed || error?.sqlState == "57P01")
            #expect(await victim.isOpen == false)
            await victim.close()
            await #expect(throws: PGError.self) { try await victim.query("SELECT 1") }
            await killer.close()
        }
    }

    /// A backend terminated before a large write: libpq reports either the server's FATAL
    /// (57P01) or, when its write fails first, its own "server closed the connection
    /// unexpectedly" with no SQLSTATE. Both are a lost connection (a pool drops it, an
    /// idempotent call is sent again), never a statement the server refused: the second
    /// form once failed a chaos run's 1.5 MiB artifact upload as a refusal.
    @Test func aConnectionLostUnderALargeWriteReadsAsLost() async throws {
        try await TestDatabase.withEmpty { db in
            let victim = try await db.connect()
            try await PGConnection.withConnection(db.url) { killer in
                let pid = try await victim.backendPID()
                try await killer.query("SELECT pg_terminate_backend($1)", [Int(pid)])
                try await waitUntil(timeout: .seconds(10), "the backend to be gone") {
                    try await killer.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1", [Int(pid)])
                        .single().decode("n", as: Int.self) == 0
                }
            }
            let large = String(repeating: "x", count: 8 << 20)
            let error = await #expect(throws: PGError.self) { try await victim.query("SELECT length($1) AS n", [large]) }
            #expect(error?.isConnectionLoss == true, "\(String(describing: error))")
            await victim.close()
        }
    }

    /// A session the server ended for idling (`idle_session_timeout`, 57P05 — a pooler or
    /// an administrator's setting) is a lost connection, whichever form libpq reports it
    /// in: a pool must drop it, not hand it out again as a connection that refuses SQL.
    /// (Here libpq reports the closed link before it reads the server's 57P05; the code
    /// itself is checked by value.)
    @Test func aSessionEndedForIdlingReadsAsLost() async throws {
        try await TestDatabase.withEmpty { db in
            let victim = try await db.connect()
            try await victim.query("SET idle_session_timeout = '100ms'")
            try await Task.sleep(for: .milliseconds(500))
            let error = await #expect(throws: PGError.self) { try await victim.query("SELECT 1") }
            #expect(error?.isConnectionLoss == true, "\(String(describing: error))")
            #expect(PGError(kind: .server, message: "terminating connection due to idle-session timeout", sqlState: "57P05").isConnectionLoss)
            await victim.close()
        }
    }

    /// Every error the server sends carries a SQLSTATE; an error result without one is
    /// libpq's own report of a failed link, whatever the connection's status says yet.
    @Test func anErrorResultWithoutASQLStateIsALostConnection() throws {
        let result = try #require(PQmakeEmptyPGresult(nil, PGRES_FATAL_ERROR))
        defer { PQclear(result) }
        let error = PGConnection.error(from: result, endpoint: "db.example:5432")
        #expect(error.kind == .connectionClosed)
        #expect(error.isConnectionLoss)
        #expect(error.message.contains("db.example:5432"))
        let refused = PGError(kind: .server, message: "duplicate key", sqlState: SQLState.uniqueViolation)
        #expect(!refused.isConnectionLoss)
        #expect(PGError(kind: .server, message: "terminating connection", sqlState: "57P01").isConnectionLoss)
        #expect(!PGError(kind: .server, message: "canceling statement", sqlState: SQLState.queryCanceled).isConnectionLoss)
    }

    @Test func connectionFailureNamesEndpointButNotPassword() async throws {
        let error = await #expect(throws: PGError.self) {
            _ = try await PGConnection.connect("postgresql://alice:s3cret-pw@127.0.0.1:1/orders?connect_timeout=2")
        }
        #expect(error?.kind == .connection)
        let text = error?.description ?? ""
        #expect(text.contains("\"orders\""))
        #expect(text.contains("127.0.0.1:1"))
        #expect(text.contains("alice"))
        #expect(!text.contains("s3cret-pw"))
        #expect(!text.contains("\n"))
    }

    @Test func quotesIdentifiers() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let quoted = try await conn.quoteIdentifier("we\"ird name")
                #expect(quoted == "\"we\"\"ird name\"")
            }
        }
    }
}
