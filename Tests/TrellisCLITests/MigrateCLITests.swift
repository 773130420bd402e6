import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The newest migration this binary carries.
private let latest = SQLCatalogue.embedded.migrations.count

/// End-to-end: the built `trellis` binary against a real database.
@Suite("trellis migrate (binary)")
struct MigrateCLITests {
    /// A row of `migrate status`: it starts with a four-digit version.
    static func isVersionRow<S: StringProtocol>(_ line: S) -> Bool {
        line.count > 5 && line.prefix(4).allSatisfy(\.isNumber) && line.dropFirst(4).first == " "
    }

    @Test func migratesShowsStatusAndVerifies() async throws {
        try await TestDatabase.withEmpty { db in
            let url = ["--database-url", db.url]
            let before = try TrellisBinary.run(["migrate", "status"] + url)
            #expect(before.status == 0)
            #expect(before.stdout.contains("0001     0001_initial_schema"))
            #expect(before.stdout.split(separator: "\n").filter { Self.isVersionRow($0) && $0.contains("pending") }.count == latest)
            #expect(before.stdout.contains("run `trellis migrate up`"))

            let up = try TrellisBinary.run(["migrate", "up"] + url)
            #expect(up.status == 0, "\(up.stderr)")
            #expect(up.stdout.contains("applied   0001_initial_schema.sql"))
            #expect(up.stdout.contains("schema is at version \(latest)"))

            let after = try TrellisBinary.run(["migrate", "status"] + url)
            let lines = after.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("VERSION  NAME") && $0.contains("STATE    APPLIED AT") })
            let rows = lines.filter { Self.isVersionRow($0) }
            #expect(rows.count == latest)
            #expect(rows.allSatisfy { $0.split(separator: " ", omittingEmptySubsequences: true)[2] == "applied" })
            #expect(after.stdout.contains("schema version \(latest), up to date"))

            let verify = try TrellisBinary.run(["migrate", "verify"] + url)
            #expect(verify.status == 0)
            #expect(verify.stdout == "ok: \(latest) applied migration(s) match this binary\n")

            let again = try TrellisBinary.run(["migrate", "up"] + url)
            #expect(again.stdout == "schema is up to date at version \(latest)\n")
        }
    }

    @Test func refusesDriftWithOneLineAndNonZeroExit() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await conn.query("UPDATE trellis.schema_migrations SET checksum = $1 WHERE version = 1", ["0badc0ffee"])
            }
            for command in ["up", "verify"] {
                let result = try TrellisBinary.run(["migrate", command, "--database-url", db.url])
                #expect(result.status != 0)
                #expect(result.stdout.isEmpty)
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1, "stderr: \(result.stderr)")
                #expect(result.stderr.contains("migrations/0001_initial_schema.sql changed after it was applied"))
                #expect(result.stderr.contains("applied checksum 0badc0ffee"))
            }
            let status = try TrellisBinary.run(["migrate", "status", "--database-url", db.url])
            #expect(status.stdout.contains("changed"))
            #expect(status.stdout.contains("DRIFT in 1 migration(s)"))
        }
    }

    @Test func unreachableDatabaseIsOneClearLine() throws {
        let result = try TrellisBinary.run(["migrate", "up", "--database-url", "postgresql://bob:hunter2@127.0.0.1:1/orders"])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("cannot connect to database \"orders\" at 127.0.0.1:1"))
        #expect(!result.stderr.contains("hunter2"))
    }

    @Test func databaseURLComesFromTheEnvironment() async throws {
        try await TestDatabase.withEmpty { db in
            let result = try TrellisBinary.run(["migrate", "up"], environment: ["TRELLIS_DATABASE_URL": db.url])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("applied   0001_initial_schema.sql"))
        }
    }

    @Test func copiedBinaryCarriesItsSchema() async throws {
        let elsewhere = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-copy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let copy = elsewhere.appending(path: "trellis")
        // Copied under the lock every spawn takes: a process started meanwhile by a parallel
        // test (a PostgreSQL server lives on) would otherwise inherit the copy's write
        // descriptor and make exec fail with ETXTBSY for as long as it runs.
        try ProcessRunner.withSpawnLock { try FileManager.default.copyItem(at: TrellisBinary.url, to: copy) }
        try await TestDatabase.withEmpty { db in
            let result = try TrellisBinary.run(["migrate", "up", "--database-url", db.url], workingDirectory: elsewhere, binary: copy)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("applied   0001_initial_schema.sql"))
            #expect(result.stdout.contains("defined   "))
        }
    }
}
