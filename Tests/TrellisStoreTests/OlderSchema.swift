import TrellisPQ
@testable import TrellisStore

/// A database at an older migration, for upgrade tests: the migrations up to `version`
/// and this build's definitions, which have to work on it until the upgrade runs.
enum OlderSchema {
    static func migrate(_ conn: PGConnection, upTo version: Int) async throws {
        let catalogue = try SQLCatalogue(files: SQLCatalogue.embedded.migrations.filter { $0.version <= version }.map(\.file)
                                         + SQLCatalogue.embedded.definitions)
        _ = try await Migrator(connection: conn, catalogue: catalogue).up()
        if version < 28 {
            // create_runs calls uuid_v7 (migration 0028): stand in what made run ids before.
            _ = try await conn.query("CREATE FUNCTION trellis.uuid_v7() RETURNS uuid LANGUAGE sql AS 'SELECT gen_random_uuid()'")
        }
    }
}
