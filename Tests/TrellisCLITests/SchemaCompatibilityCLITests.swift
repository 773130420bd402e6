import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// `trellis scheduler` and `trellis relay` refuse to start against a schema other than the
/// one their binary's catalogue makes, with one line naming the fix and exit 78, and stop
/// the same way when they find it changed while running; a database that matches (every
/// other test) starts them as before.
@Suite("Schema compatibility at start-up (binary)")
struct SchemaCompatibilityCLITests {
    /// Starts `arguments`, waits for the process to end on its own, and returns its exit
    /// code and stderr — failing (and killing it) if it is still running after 60 s.
    private func refusal(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
        let process = try BackgroundProcess(trellis: arguments)
        defer { if process.isRunning { process.stop(SIGKILL) } }
        try await waitUntil(timeout: .seconds(60), "trellis \(arguments[0]) to refuse and exit (log: \(process.log))") { !process.isRunning }
        return (process.stop(), process.log)
    }

    /// Schedulers the database has registered (`live`: not stopped).
    private func schedulers(_ db: TestDatabase, live: Bool = false) async throws -> Int {
        try await db.withConnection {
            try await $0.query("SELECT count(*)::int AS n FROM trellis.schedulers WHERE $1 = false OR stopped_at IS NULL", [live])
                .single().decode("n", as: Int.self)
        }
    }

    /// A scheduler whose two lanes have registered, checking the schema every `seconds` (0: never).
    private func registeredScheduler(_ db: TestDatabase, name: String, checkEvery seconds: Int) async throws -> BackgroundProcess {
        let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", name, "--schema-check-interval", "\(seconds)",
                                                        "--database-url", db.url])
        do {
            try await waitUntil(timeout: .seconds(60), "the scheduler's lanes to register (log: \(scheduler.log))") {
                try await schedulers(db, live: true) == 2
            }
        } catch {
            scheduler.stop(SIGKILL)
            throw error
        }
        return scheduler
    }

    /// Records another checksum for one definition file, as a `migrate up` by another build would.
    private func changeDefinition(_ db: TestDatabase, _ path: String = "sql/030_runs/0400_function_claim_nodes.sql") async throws {
        try await db.withConnection { try await $0.query("UPDATE trellis.schema_definitions SET checksum = 'other' WHERE path = $1", [path]) }
    }

    private func expectOneLine(_ result: (status: Int32, stderr: String), _ fragments: String...) {
        #expect(result.status == 78, "stderr: \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        for fragment in fragments { #expect(result.stderr.contains(fragment), "stderr: \(result.stderr)") }
    }

    @Test func anEmptyDatabaseIsRefusedWithMigrateUp() async throws {
        try await TestDatabase.withEmpty { db in
            expectOneLine(try await refusal(["scheduler", "--database-url", db.url]),
                          "the database has no trellis schema", "run `trellis migrate up` with this binary first")
        }
    }

    @Test func aDatabaseBehindTheBinaryIsRefused() async throws {
        try await TestDatabase.withMigrated { db in
            let newest = SQLCatalogue.embedded.migrations.last!.version
            try await db.withConnection { try await $0.query("DELETE FROM trellis.schema_migrations WHERE version = $1", [newest]) }
            let result = try await refusal(["scheduler", "--database-url", db.url])
            expectOneLine(result, "schema is at version \(newest - 1) and this binary's is version \(newest)", "run `trellis migrate up`")
            // Nothing was registered: the check comes before the scheduler's row.
            #expect(try await schedulers(db) == 0)
        }
    }

    @Test func aDatabaseAheadOfTheBinaryIsRefusedBySchedulerAndRelay() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection {
                try await $0.query("INSERT INTO trellis.schema_migrations (version, name, checksum) VALUES (9999, '9999_from_the_future', 'f00d')")
            }
            expectOneLine(try await refusal(["scheduler", "--database-url", db.url]),
                          "the database has migration 9999 (9999_from_the_future) that this binary does not know", "use a newer trellis binary")
            let port = try LocalCluster.freePort()
            expectOneLine(try await refusal(["relay", "--port", "\(port)", "--database-url", db.url]),
                          "the database has migration 9999 (9999_from_the_future) that this binary does not know")
        }
    }

    @Test func otherDefinitionsAreRefusedNamingAFile() async throws {
        try await TestDatabase.withMigrated { db in
            let path = "sql/030_runs/0400_function_claim_nodes.sql"
            try await changeDefinition(db, path)
            expectOneLine(try await refusal(["scheduler", "--database-url", db.url]),
                          "1 of this binary's SQL definition file(s) differ from the database's (\(path))",
                          "run `trellis migrate up` with this binary, or run the binary that migrated it")
            // What the message says to do works: migrate up re-applies it, and the scheduler starts.
            #expect(try TrellisBinary.run(["migrate", "up", "--database-url", db.url]).status == 0)
            let scheduler = try BackgroundProcess(trellis: ["scheduler", "--database-url", db.url])
            defer { scheduler.stop(SIGKILL) }
            try await waitUntil(timeout: .seconds(60), "the scheduler to register (log: \(scheduler.log))") {
                guard scheduler.isRunning else { throw SchemaTestError(log: scheduler.log) }
                return try await schedulers(db) > 0
            }
        }
    }

    /// Migrated while a running scheduler was cut off (its backends terminated here, as a
    /// release that restarts the database would): on reconnecting it stops with exit 78
    /// instead of calling functions it was not built for. (No periodic check here: the
    /// reconnect's own check is what stops it.)
    @Test func aSchemaChangedWhileTheConnectionWasDownStopsARunningScheduler() async throws {
        try await TestDatabase.withMigrated { db in
            let scheduler = try await registeredScheduler(db, name: "drifting", checkEvery: 0)
            defer { if scheduler.isRunning { scheduler.stop(SIGKILL) } }
            try await changeDefinition(db)
            try await waitUntil(timeout: .seconds(60), "the scheduler to stop (log: \(scheduler.log))") {
                try await db.withConnection {
                    _ = try await $0.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'trellis-scheduler%'")
                }
                return !scheduler.isRunning
            }
            #expect(scheduler.stop() == 78, "log: \(scheduler.log)")
            #expect(scheduler.log.contains("the database's schema changed while the connection was down"), "log: \(scheduler.log)")
            #expect(scheduler.log.contains("Error: 1 of this binary's SQL definition file(s) differ"), "log: \(scheduler.log)")
        }
    }

    /// Migrated while a scheduler stayed connected (`migrate up` run beside it, against the
    /// upgrade procedure): its periodic check stops it within the interval, leaving its
    /// claimed work to lapse back to the queue — it makes no call to the changed functions.
    @Test func aSchemaChangedWhileTheSchedulerStaysConnectedStopsIt() async throws {
        try await TestDatabase.withMigrated { db in
            let scheduler = try await registeredScheduler(db, name: "connected", checkEvery: 1)
            defer { if scheduler.isRunning { scheduler.stop(SIGKILL) } }
            try await changeDefinition(db)
            try await waitUntil(timeout: .seconds(60), "the scheduler to stop (log: \(scheduler.log))") { !scheduler.isRunning }
            #expect(scheduler.stop() == 78, "log: \(scheduler.log)")
            #expect(scheduler.log.contains("the database's schema changed since this scheduler started"), "log: \(scheduler.log)")
            #expect(scheduler.log.contains("Error: 1 of this binary's SQL definition file(s) differ"), "log: \(scheduler.log)")
            // Found by the check on the connections it had all along, not by a reconnect.
            #expect(!scheduler.log.contains("reconnect"), "log: \(scheduler.log)")
            // It did not deregister: a stop would have called stop_scheduler on the changed schema.
            #expect(try await schedulers(db, live: true) == 2)
        }
    }

    /// A relay's periodic check stops it when the schema changes under it.
    @Test func aSchemaChangedUnderARunningRelayStopsIt() async throws {
        try await TestDatabase.withMigrated { db in
            let relay = try BackgroundProcess(trellis: ["relay", "--port", "\(try LocalCluster.freePort())", "--schema-check-interval", "1",
                                                        "--database-url", db.url])
            defer { if relay.isRunning { relay.stop(SIGKILL) } }
            try await waitUntil(timeout: .seconds(60), "the relay to listen (log: \(relay.log))") { relay.output.contains("relay listening on") }
            try await changeDefinition(db, "sql/070_relay/0100_function_require_run_access.sql")
            try await waitUntil(timeout: .seconds(60), "the relay to stop (log: \(relay.log))") { !relay.isRunning }
            #expect(relay.stop() == 78, "log: \(relay.log)")
            #expect(relay.log.contains("Error: 1 of this binary's SQL definition file(s) differ"), "log: \(relay.log)")
        }
    }

    /// A relay started while its database did not answer (here: not created yet) starts,
    /// then checks the schema as soon as the database answers — an empty one is refused.
    @Test func aRelayWhoseDatabaseAnswersLaterChecksItThen() async throws {
        try await TestDatabase.withEmpty { db in
            let later = db.name + "_later"
            var components = URLComponents(string: db.url)!
            components.path = "/" + later
            let relay = try BackgroundProcess(trellis: ["relay", "--port", "\(try LocalCluster.freePort())", "--database-url", components.string!])
            defer { if relay.isRunning { relay.stop(SIGKILL) } }
            try await waitUntil(timeout: .seconds(60), "the relay to listen (log: \(relay.log))") { relay.output.contains("relay listening on") }
            #expect(relay.log.contains("its schema not checked yet"), "log: \(relay.log)")
            func dropLater() async throws {
                try await db.withConnection { try await $0.execute(script: "DROP DATABASE IF EXISTS \(try await $0.quoteIdentifier(later)) WITH (FORCE)") }
            }
            try await db.withConnection { try await $0.execute(script: "CREATE DATABASE \(try await $0.quoteIdentifier(later))") }
            do {
                try await waitUntil(timeout: .seconds(60), "the relay to stop (log: \(relay.log))") { !relay.isRunning }
            } catch {
                try? await dropLater()
                throw error
            }
            try await dropLater()
            #expect(relay.stop() == 78, "log: \(relay.log)")
            #expect(relay.log.contains("Error: the database has no trellis schema"), "log: \(relay.log)")
        }
    }

    @Test func aNegativeCheckIntervalIsRefusedByName() throws {
        for command in ["scheduler", "relay"] {
            let refused = try TrellisBinary.run([command, "--schema-check-interval=-1",
                                                 "--database-url", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--schema-check-interval must be 0 to 86400 seconds"), "\(command): \(refused.stderr)")
        }
    }

    /// The scheduler's own role reads no tables; the check must work under it.
    @Test func theCheckWorksUnderTheSchedulersRole() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withLogin(inRole: "trellis_scheduler") { url in
                try await PGConnection.withConnection(url) { conn in
                    try await SchemaCompatibility.require(conn)
                    await #expect(throws: PGError.self) { try await conn.query("SELECT count(*) FROM trellis.schema_migrations") }
                }
            }
        }
    }

    struct SchemaTestError: Error, CustomStringConvertible {
        var log: String
        var description: String { "the scheduler exited: \(log)" }
    }
}
