import Foundation
import TrellisCore
import TrellisPQ

/// Applies the catalogue's numbered migrations, then its changed repeatable definitions.
///
/// - Each migration runs in its own transaction together with its `schema_migrations`
///   row, so a failure leaves the database at the previous version.
/// - A session advisory lock serialises concurrent runners: the second waits, then finds
///   nothing left to do.
/// - An applied migration whose file changed is refused before anything runs.
public struct Migrator: Sendable {
    /// `pg_advisory_lock` key: "trellis" in ASCII.
    public static let lockKey: Int64 = 0x7472_656c_6c69_73

    public let connection: PGConnection
    public let catalogue: SQLCatalogue

    public init(connection: PGConnection, catalogue: SQLCatalogue = .embedded) {
        self.connection = connection
        self.catalogue = catalogue
    }

    /// Compares the catalogue with the database without changing anything.
    public func status() async throws -> MigrationStatus {
        let exists = try await connection.run(Query.Migrator.bookkeepingExists).single()
        let migrationsTable = try exists.decode("migrations", as: Bool.self)
        let definitionsTable = try exists.decode("definitions", as: Bool.self)
        let appliedRows = migrationsTable
            ? try await connection.run(Query.Migrator.appliedMigrations).rows : []
        let definitionRows = definitionsTable
            ? try await connection.run(Query.Migrator.appliedDefinitions).rows : []

        return MigrationStatus(
            catalogue: catalogue,
            applied: try appliedRows.map {
                MigrationStatus.AppliedMigration(
                    version: try $0.decode("version"), name: try $0.decode("name"), checksum: try $0.decode("checksum"),
                    appliedAt: try $0.decodeIfPresent("applied_at"), durationMilliseconds: try $0.decodeIfPresent("duration_ms"))
            },
            definitions: try definitionRows.map {
                MigrationStatus.AppliedDefinition(path: try $0.decode("path"), checksum: try $0.decode("checksum"),
                                                  appliedAt: try $0.decodeIfPresent("applied_at"))
            })
    }

    /// Throws the first drift found (changed or unknown applied migration).
    public func verify() async throws -> MigrationStatus {
        let status = try await status()
        try Self.refuseDrift(status)
        return status
    }

    /// Applies pending migrations and changed definitions under the migration lock.
    @discardableResult
    public func up() async throws -> MigrationReport {
        try await connection.run(Query.Migrator.lock, [Self.lockKey])
        do {
            let report = try await upLocked()
            try await connection.run(Query.Migrator.unlock, [Self.lockKey])
            return report
        } catch {
            // Session locks die with the session; unlock anyway so a reused connection is clean.
            _ = try? await connection.run(Query.Migrator.unlock, [Self.lockKey])
            throw error
        }
    }

    private func upLocked() async throws -> MigrationReport {
        try await connection.execute(script: SQLCatalogue.embedded.query(Query.Migrator.bootstrap))
        let status = try await status()
        try Self.refuseDrift(status)
        let newestApplied = status.migrations.filter { $0.state == .applied }.map(\.version).max() ?? 0
        if let early = status.pending.first(where: { $0.version < newestApplied }) {
            throw MigrationError(
                code: .outOfOrder,
                message: "migration \(fileName(early.version)) is numbered below the newest applied migration "
                    + "(\(newestApplied)); renumber it after \(newestApplied)")
        }

        var report = MigrationReport()
        let pendingVersions = Set(status.pending.map(\.version))
        for migration in catalogue.migrations where pendingVersions.contains(migration.version) {
            let started = ContinuousClock.now
            do {
                try await connection.withTransaction { connection in
                    try await connection.execute(script: migration.file.contents)
                    let elapsed = Self.milliseconds(since: started)
                    try await connection.run(
                        Query.Migrator.recordMigration,
                        [migration.version, migration.name, migration.file.checksum, elapsed])
                }
            } catch {
                throw Self.failure(file: migration.file, error: error, what: "migration")
            }
            report.appliedMigrations.append(.init(name: migration.file.fileName, durationMilliseconds: Self.milliseconds(since: started)))
        }

        // Definitions build on each other (a view on a function), so a changed one is
        // re-applied with every later changed one, all in one transaction.
        // The grants under sql/090_grants/ cover every object of the schema ("ON ALL
        // FUNCTIONS"): they are re-applied after any change, so a function that is new in
        // this release is granted like the old ones on an upgraded database too.
        // After a migration every definition is applied again: a migration may drop what
        // definitions made (0027 drops the views over the columns it changes to domains),
        // and an unchanged definition's checksum would not bring it back.
        var pendingPaths = report.appliedMigrations.isEmpty
            ? Set(status.pendingDefinitions.map(\.path))
            : Set(catalogue.definitions.map(\.path))
        if !pendingPaths.isEmpty {
            pendingPaths.formUnion(catalogue.definitions.map(\.path).filter { $0.hasPrefix(Self.grantsFolder) })
        }
        let changed = catalogue.definitions.filter { pendingPaths.contains($0.path) }
        if !changed.isEmpty {
            var steps: [MigrationReport.Step] = []
            try await connection.withTransaction { connection in
                for file in changed {
                    let started = ContinuousClock.now
                    do {
                        try await connection.execute(script: file.contents)
                    } catch {
                        throw Self.failure(file: file, error: error, what: "definition")
                    }
                    let elapsed = Self.milliseconds(since: started)
                    try await connection.run(Query.Migrator.recordDefinition, [file.path, file.checksum, elapsed])
                    steps.append(.init(name: file.path, durationMilliseconds: elapsed))
                }
            }
            report.appliedDefinitions = steps
        }
        report.version = catalogue.migrations.last?.version ?? 0
        return report
    }

    /// Definitions re-applied whenever any definition changes.
    static let grantsFolder = "sql/090_grants/"

    private func fileName(_ version: Int) -> String {
        catalogue.migrations.first { $0.version == version }?.file.path ?? "version \(version)"
    }

    static func refuseDrift(_ status: MigrationStatus) throws {
        for entry in status.drift {
            switch entry.state {
            case .changed:
                throw MigrationError(
                    code: .checksumMismatch,
                    message: "migration migrations/\(entry.name).sql changed after it was applied "
                        + "(applied checksum \(entry.appliedChecksum ?? "?"), file checksum \(entry.fileChecksum ?? "?")); "
                        + "applied migrations are immutable: restore the file and add a new migration")
            default:
                throw MigrationError(
                    code: .unknownApplied,
                    message: "the database has migration \(entry.version) (\(entry.name)) that this binary does not know; "
                        + "use a newer trellis binary")
            }
        }
    }

    static func failure(file: SQLFile, error: any Error, what: String) -> MigrationError {
        guard let pgError = error as? PGError else {
            return MigrationError(code: .failed, message: "\(what) \(file.path) failed: \(error)")
        }
        var location = ""
        if let position = pgError.position {
            let prefix = file.contents.prefix(position)
            location = " at line \(prefix.filter(\.isNewline).count + 1)"
        }
        return MigrationError(
            code: .failed,
            message: "\(what) \(file.path) failed\(location): \(pgError.description); nothing from it was applied",
            underlying: pgError)
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return elapsed.inSeconds * 1000
    }
}
