import Foundation
import Testing
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// Builds a small catalogue of migrations and definitions for runner behaviour tests.
private func catalogue(_ files: [String: String]) throws -> SQLCatalogue {
    try SQLCatalogue(files: files.map { SQLFile(path: $0.key, contents: $0.value) })
}

private func tableExists(_ name: String, _ conn: PGConnection) async throws -> Bool {
    try await conn.query("SELECT to_regclass($1) IS NOT NULL AS present", [name]).single().decode("present")
}

private func appliedVersions(_ conn: PGConnection) async throws -> [Int] {
    try await conn.query("SELECT version FROM trellis.schema_migrations ORDER BY version").rows.map { try $0.decode("version") }
}

@Suite("Migration runner")
struct MigratorTests {
    @Test func appliesEmbeddedSchemaOnceAndIsIdempotent() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let migrator = Migrator(connection: conn)
                let before = try await migrator.status()
                #expect(before.pending.count == SQLCatalogue.embedded.migrations.count)
                #expect(before.currentVersion == 0)

                let first = try await migrator.up()
                #expect(first.appliedMigrations.map(\.name) == SQLCatalogue.embedded.migrations.map(\.file.fileName))
                #expect(first.appliedDefinitions.count == SQLCatalogue.embedded.definitions.count)

                let second = try await migrator.up()
                #expect(second.appliedMigrations.isEmpty)
                #expect(second.appliedDefinitions.isEmpty)
                let status = try await migrator.status()
                #expect(status.isUpToDate)
                #expect(status.migrations.allSatisfy { $0.state == .applied && $0.appliedAt != nil })
                #expect(try await appliedVersions(conn) == SQLCatalogue.embedded.migrations.map(\.version))
            }
        }
    }

    @Test func createsEveryTableOfTheDataModel() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                for table in [
                    "principals", "api_tokens", "workflows", "workflow_versions", "workflow_nodes", "workflow_edges",
                    "workflow_templates", "workflow_permissions", "workflow_runs", "node_runs", "node_attempts",
                    "approvals", "run_events", "schedulers", "schema_migrations",
                ] {
                    #expect(try await tableExists("trellis.\(table)", conn), "missing table trellis.\(table)")
                }
                let readyIndex = try await conn.query(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'trellis' AND indexname = 'node_runs_ready_idx'"
                ).single().decode("indexdef", as: String.self)
                // status is a domain over text (migration 0027): the predicate compares its text.
                #expect(readyIndex.contains("WHERE ((status)::text = 'ready'::text)"), "\(readyIndex)")
            }
        }
    }

    @Test func refusesChangedAppliedMigrationAndChangesNothing() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let original = try catalogue(["migrations/0001_create_a.sql": "CREATE TABLE a (id int);"])
                try await Migrator(connection: conn, catalogue: original).up()

                let edited = try catalogue([
                    "migrations/0001_create_a.sql": "CREATE TABLE a (id bigint);",
                    "migrations/0002_create_b.sql": "CREATE TABLE b (id int);",
                ])
                let migrator = Migrator(connection: conn, catalogue: edited)
                let error = await #expect(throws: MigrationError.self) { try await migrator.up() }
                #expect(error?.code == .checksumMismatch)
                let message = error?.description ?? ""
                #expect(message.contains("migrations/0001_create_a.sql"))
                #expect(message.contains(original.migrations[0].file.checksum))
                #expect(message.contains(edited.migrations[0].file.checksum))
                #expect(try await tableExists("b", conn) == false)
                #expect(try await appliedVersions(conn) == [1])

                let verifyError = await #expect(throws: MigrationError.self) { try await migrator.verify() }
                #expect(verifyError?.code == .checksumMismatch)
                let status = try await migrator.status()
                #expect(status.migrations.map(\.state) == [.changed, .pending])
            }
        }
    }

    @Test func failingMigrationLeavesPreviousVersion() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let broken = try catalogue([
                    "migrations/0001_create_a.sql": "CREATE TABLE a (id int);",
                    "migrations/0002_broken.sql": "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nINSERT INTO b VALUES (1/0);\n",
                ])
                let error = await #expect(throws: MigrationError.self) {
                    try await Migrator(connection: conn, catalogue: broken).up()
                }
                #expect(error?.code == .failed)
                #expect(error?.description.contains("migrations/0002_broken.sql") == true)
                #expect(error?.description.contains("22012") == true)  // division_by_zero
                #expect(try await tableExists("a", conn))
                #expect(try await tableExists("b", conn) == false)
                #expect(try await appliedVersions(conn) == [1])

                let syntax = try catalogue([
                    "migrations/0001_create_a.sql": "CREATE TABLE a (id int);",
                    "migrations/0002_broken.sql": "CREATE TABLE b (id int);\n\nCREAT TABLE c (id int);\n",
                ])
                let syntaxError = await #expect(throws: MigrationError.self) {
                    try await Migrator(connection: conn, catalogue: syntax).up()
                }
                #expect(syntaxError?.description.contains("migrations/0002_broken.sql failed at line 3") == true)
                #expect(try await tableExists("b", conn) == false)

                let fixed = try catalogue([
                    "migrations/0001_create_a.sql": "CREATE TABLE a (id int);",
                    "migrations/0002_broken.sql": "CREATE TABLE b (id int);\n",
                ])
                let report = try await Migrator(connection: conn, catalogue: fixed).up()
                #expect(report.appliedMigrations.map(\.name) == ["0002_broken.sql"])
                #expect(try await appliedVersions(conn) == [1, 2])
            }
        }
    }

    @Test func concurrentRunnersNeverInterleave() async throws {
        try await TestDatabase.withEmpty { db in
            // The slow migration keeps the first runner busy while the second arrives.
            let slow = try catalogue([
                "migrations/0001_slow.sql": "CREATE TABLE a (id int); SELECT pg_sleep(0.3);",
                "migrations/0002_next.sql": "CREATE TABLE b (id int);",
                "sql/010_f.sql": "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
            ])
            let one = try await db.connect()
            let two = try await db.connect()
            async let first = Migrator(connection: one, catalogue: slow).up()
            async let second = Migrator(connection: two, catalogue: slow).up()
            let reports = try await [first, second]
            // Exactly one runner did the work; the other found nothing to do.
            #expect(reports.map(\.appliedMigrations.count).sorted() == [0, 2])
            #expect(reports.map(\.appliedDefinitions.count).sorted() == [0, 1])
            #expect(try await appliedVersions(one) == [1, 2])
            await one.close()
            await two.close()
        }
    }

    @Test func refusesUnknownAndOutOfOrderMigrations() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await Migrator(connection: conn, catalogue: try catalogue([
                    "migrations/0002_b.sql": "CREATE TABLE b (id int);",
                ])).up()

                let older = try catalogue(["migrations/0001_a.sql": "CREATE TABLE a (id int);"])
                let unknown = await #expect(throws: MigrationError.self) {
                    try await Migrator(connection: conn, catalogue: older).up()
                }
                #expect(unknown?.code == .unknownApplied)
                #expect(unknown?.description.contains("0002_b") == true)

                let outOfOrder = await #expect(throws: MigrationError.self) {
                    try await Migrator(connection: conn, catalogue: try catalogue([
                        "migrations/0001_a.sql": "CREATE TABLE a (id int);",
                        "migrations/0002_b.sql": "CREATE TABLE b (id int);",
                    ])).up()
                }
                #expect(outOfOrder?.code == .outOfOrder)
                #expect(outOfOrder?.description.contains("migrations/0001_a.sql") == true)
                #expect(try await tableExists("a", conn) == false)
            }
        }
    }

    @Test func reappliesOnlyChangedDefinitionsAtomically() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                func value() async throws -> Int {
                    try await conn.query("SELECT public.f() AS v").single().decode("v")
                }
                let v1 = try catalogue([
                    "sql/010_f.sql": "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
                    "sql/020_g.sql": "CREATE OR REPLACE FUNCTION public.g() RETURNS int LANGUAGE sql AS 'SELECT public.f()';",
                ])
                #expect(try await Migrator(connection: conn, catalogue: v1).up().appliedDefinitions.count == 2)
                #expect(try await value() == 1)

                let v2 = try catalogue([
                    "sql/010_f.sql": "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 2';",
                    "sql/020_g.sql": v1.definitions[1].contents,
                ])
                let report = try await Migrator(connection: conn, catalogue: v2).up()
                #expect(report.appliedDefinitions.map(\.name) == ["sql/010_f.sql"])
                #expect(try await value() == 2)

                // A broken definition rolls back the whole set: f keeps its old body.
                let v3 = try catalogue([
                    "sql/010_f.sql": "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 3';",
                    "sql/020_g.sql": "CREATE OR REPLACE FUNCTION public.g() RETURNS int LANGUAGE sql AS 'SELECT nope()';",
                ])
                let error = await #expect(throws: MigrationError.self) { try await Migrator(connection: conn, catalogue: v3).up() }
                #expect(error?.description.contains("sql/020_g.sql") == true)
                #expect(try await value() == 2)
                let status = try await Migrator(connection: conn, catalogue: v3).status()
                #expect(status.pendingDefinitions.map(\.path) == ["sql/010_f.sql", "sql/020_g.sql"])
            }
        }
    }

    /// A function new in a release must be granted on an upgraded database too: the
    /// schema-wide grants run again after any definition changes (and only then).
    @Test func grantsAreReappliedAfterAnyChange() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                try await conn.execute(script: "CREATE TABLE public.grant_runs (id serial)")
                let grants = "INSERT INTO public.grant_runs DEFAULT VALUES;"
                func runs() async throws -> Int {
                    try await conn.query("SELECT count(*) AS n FROM public.grant_runs").single().decode("n")
                }
                let v1 = try catalogue(["sql/010_f.sql": "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
                                        "sql/090_grants/0100_grants.sql": grants])
                _ = try await Migrator(connection: conn, catalogue: v1).up()
                #expect(try await runs() == 1)
                _ = try await Migrator(connection: conn, catalogue: v1).up()
                #expect(try await runs() == 1, "nothing changed: nothing re-applied")
                let v2 = try catalogue(["sql/010_f.sql": "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
                                        "sql/020_new.sql": "CREATE OR REPLACE FUNCTION public.g() RETURNS int LANGUAGE sql AS 'SELECT 2';",
                                        "sql/090_grants/0100_grants.sql": grants])
                let report = try await Migrator(connection: conn, catalogue: v2).up()
                #expect(report.appliedDefinitions.map(\.name) == ["sql/020_new.sql", "sql/090_grants/0100_grants.sql"])
                #expect(try await runs() == 2)
            }
        }
    }

    /// A migration may drop what a definition made (0027 drops the views over the columns
    /// it changes): after any migration every definition is applied again, changed or not,
    /// and without one only the changed ones are.
    @Test func aMigrationBringsBackWhatItDropped() async throws {
        try await TestDatabase.withEmpty { db in
            try await db.withConnection { conn in
                let view = "CREATE OR REPLACE VIEW public.v AS SELECT x FROM public.t;"
                let v1 = try catalogue(["migrations/0001_t.sql": "CREATE TABLE public.t (x text);",
                                        "sql/010_v.sql": view])
                _ = try await Migrator(connection: conn, catalogue: v1).up()
                #expect(try await tableExists("public.v", conn))
                let v2 = try catalogue(["migrations/0001_t.sql": "CREATE TABLE public.t (x text);",
                                        "migrations/0002_x.sql": "DROP VIEW public.v; ALTER TABLE public.t ALTER COLUMN x TYPE varchar(10);",
                                        "sql/010_v.sql": view])
                let report = try await Migrator(connection: conn, catalogue: v2).up()
                #expect(report.appliedDefinitions.map(\.name) == ["sql/010_v.sql"], "unchanged, applied again after 0002")
                #expect(try await tableExists("public.v", conn))
                #expect(try await Migrator(connection: conn, catalogue: v2).up().appliedDefinitions.isEmpty, "nothing new: nothing applied")
            }
        }
    }

    @Test func catalogueRejectsBadMigrationNames() {
        #expect(throws: MigrationError.self) { try catalogue(["migrations/1_short.sql": "SELECT 1;"]) }
        #expect(throws: MigrationError.self) { try catalogue(["migrations/0000_zero.sql": "SELECT 1;"]) }
        #expect(throws: MigrationError.self) { try catalogue(["migrations/0001-dash.sql": "SELECT 1;"]) }
        let duplicate = #expect(throws: MigrationError.self) {
            try catalogue(["migrations/0001_a.sql": "SELECT 1;", "migrations/0001_b.sql": "SELECT 2;"])
        }
        #expect(duplicate?.code == .invalidCatalogue)
    }
}
