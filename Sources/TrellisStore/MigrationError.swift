/// Why the migration runner refused or failed. `description` is one line naming the file.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// An applied migration's file changed since it was applied.
        case checksumMismatch = "checksum_mismatch"
        /// The database has a migration this binary does not know (it is newer).
        case unknownApplied = "unknown_applied"
        /// A pending migration is numbered below one already applied.
        case outOfOrder = "out_of_order"
        /// A migration or definition failed; its transaction was rolled back.
        case failed
        /// The catalogue itself is malformed (bad file name, duplicate version).
        case invalidCatalogue = "invalid_catalogue"
        /// The database lacks migrations this binary has (`trellis migrate up` has not run).
        case schemaBehind = "schema_behind"
        /// Same migrations, other definition files: another build migrated the database.
        case definitionsDiffer = "definitions_differ"
    }

    public var code: Code
    public var message: String
    /// The server error behind a `.failed`, when there is one.
    public var underlying: (any Error & Sendable)?

    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
