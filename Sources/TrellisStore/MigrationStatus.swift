import Foundation

/// What `trellis migrate status` and `verify` report: every migration and definition the
/// binary or the database knows, and how the two compare.
public struct MigrationStatus: Sendable {
    public enum State: String, Sendable {
        case applied
        case pending
        /// Applied, but the file's checksum differs from the one recorded.
        case changed
        /// Recorded in the database, absent from this binary.
        case unknown
    }

    public struct Entry: Sendable {
        public var version: Int
        public var name: String
        public var state: State
        public var fileChecksum: String?
        public var appliedChecksum: String?
        public var appliedAt: Date?
        public var durationMilliseconds: Double?
    }

    public struct DefinitionEntry: Sendable {
        public enum State: String, Sendable {
            case current
            /// Never applied, or changed since it was last applied (re-applied by `up`).
            case pending
            /// Recorded in the database but no longer in the binary.
            case removed
        }

        public var path: String
        public var state: State
        public var appliedAt: Date?
    }

    public var migrations: [Entry]
    public var definitions: [DefinitionEntry]

    /// A migration as the database recorded it.
    public struct AppliedMigration: Sendable {
        public var version: Int
        public var name: String
        public var checksum: String
        public var appliedAt: Date?
        public var durationMilliseconds: Double?
    }

    /// A definition file as the database recorded it.
    public struct AppliedDefinition: Sendable {
        public var path: String
        public var checksum: String
        public var appliedAt: Date?
    }

    public init(migrations: [Entry], definitions: [DefinitionEntry]) {
        self.migrations = migrations
        self.definitions = definitions
    }

    /// `catalogue` (a binary's migrations and definitions) against what a database recorded.
    public init(catalogue: SQLCatalogue, applied: [AppliedMigration], definitions recorded: [AppliedDefinition]) {
        var applied = Dictionary(applied.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [Entry] = []
        for migration in catalogue.migrations {
            if let row = applied.removeValue(forKey: migration.version) {
                entries.append(.init(
                    version: migration.version, name: migration.name,
                    state: row.checksum == migration.file.checksum ? .applied : .changed,
                    fileChecksum: migration.file.checksum, appliedChecksum: row.checksum,
                    appliedAt: row.appliedAt, durationMilliseconds: row.durationMilliseconds))
            } else {
                entries.append(.init(version: migration.version, name: migration.name, state: .pending,
                                     fileChecksum: migration.file.checksum))
            }
        }
        for row in applied.values {
            entries.append(.init(version: row.version, name: row.name, state: .unknown, appliedChecksum: row.checksum,
                                 appliedAt: row.appliedAt, durationMilliseconds: row.durationMilliseconds))
        }
        entries.sort { $0.version < $1.version }

        var recorded = Dictionary(recorded.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var definitions: [DefinitionEntry] = []
        for file in catalogue.definitions {
            let row = recorded.removeValue(forKey: file.path)
            definitions.append(.init(path: file.path, state: row?.checksum == file.checksum ? .current : .pending,
                                     appliedAt: row?.appliedAt))
        }
        for row in recorded.values.sorted(by: { $0.path < $1.path }) {
            definitions.append(.init(path: row.path, state: .removed, appliedAt: row.appliedAt))
        }
        self.init(migrations: entries, definitions: definitions)
    }

    /// Applied migrations whose files changed, or that this binary does not know.
    public var drift: [Entry] { migrations.filter { $0.state == .changed || $0.state == .unknown } }
    public var pending: [Entry] { migrations.filter { $0.state == .pending } }
    public var pendingDefinitions: [DefinitionEntry] { definitions.filter { $0.state == .pending } }
    public var currentVersion: Int {
        migrations.filter { $0.state != .pending }.map(\.version).max() ?? 0
    }
    public var isUpToDate: Bool { drift.isEmpty && pending.isEmpty && pendingDefinitions.isEmpty }
}

/// What one `migrate up` did.
public struct MigrationReport: Sendable {
    public struct Step: Sendable {
        public var name: String
        public var durationMilliseconds: Double
    }

    public var appliedMigrations: [Step] = []
    public var appliedDefinitions: [Step] = []
    public var version: Int = 0
}
