/// Names of the queries under `queries/`. Swift code refers to runtime SQL only through
/// these constants; the text lives in the `.sql` files.
public enum Query {
    public enum Migrator {
        public static let bootstrap = "migrator/bootstrap"
        public static let lock = "migrator/lock"
        public static let unlock = "migrator/unlock"
        public static let bookkeepingExists = "migrator/bookkeeping_exists"
        public static let appliedMigrations = "migrator/applied_migrations"
        public static let appliedDefinitions = "migrator/applied_definitions"
        public static let recordMigration = "migrator/record_migration"
        public static let recordDefinition = "migrator/record_definition"
    }

    public enum Cluster {
        public static let databaseExists = "cluster/database_exists"
    }

    /// Every name above, for the test that checks each one resolves.
    public static let all: [String] = [
        Migrator.bootstrap, Migrator.lock, Migrator.unlock, Migrator.bookkeepingExists,
        Migrator.appliedMigrations, Migrator.appliedDefinitions, Migrator.recordMigration,
        Migrator.recordDefinition, Cluster.databaseExists,
    ]
}

import TrellisPQ

extension PGConnection {
    /// Runs a named query from the embedded catalogue with bound parameters.
    @discardableResult
    public func run(_ name: String, _ parameters: [(any PGEncodable)?] = [], catalogue: SQLCatalogue = .embedded) async throws -> PGResult {
        try await query(catalogue.query(name), parameters)
    }
}
