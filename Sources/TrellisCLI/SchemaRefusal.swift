import ArgumentParser
import Foundation
import TrellisStore

/// How `trellis scheduler` and `trellis relay` end when the database's schema is not the
/// one their binary makes — at start, or found changed while running: the usual one line
/// on stderr, and exit status 78 (EX_CONFIG in sysexits.h) instead of 1, so a supervisor or
/// a deploy script can tell "run `trellis migrate up` (or the binary that migrated it)"
/// from a crash. The systemd units keep restarting either way.
enum SchemaRefusal {
    static let exitStatus: Int32 = 78

    static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refusal as MigrationError {
            // Only the schema check throws a MigrationError out of a scheduler or a relay.
            FileHandle.standardError.write(Data("Error: \(refusal.message)\n".utf8))
            throw ExitCode(exitStatus)
        }
    }
}
