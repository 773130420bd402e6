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
