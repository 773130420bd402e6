import TrellisPQ

/// The check of the long-running processes (`trellis scheduler`, `trellis relay`) at start,
/// and again while they run (`--schema-check-interval`, a scheduler's reconnect): the
/// database's schema must be the one this binary's catalogue makes. A scheduler built
/// for another schema fails every claim in ways its logs cannot explain (a function's
/// result columns changed, a column it reads is gone) or, worse, runs with rules it was not
/// built with; refusing to start names the fix instead. Upgrades therefore go: stop the
/// old processes, `trellis migrate up` with the new binary, start the new ones
/// (docs/operations.md).
public enum SchemaCompatibility {
    /// Throws a `MigrationError` naming the mismatch: the database is behind this binary
    /// (`schema_behind`: run `trellis migrate up`), ahead of it (`unknown_applied`: use a
    /// newer binary), or made from other files (`checksum_mismatch`, `definitions_differ`).
    /// Works under the scheduler's role, which reads no tables (`trellis.schema_state()`).
    public static func require(_ connection: PGConnection, catalogue: SQLCatalogue = .embedded) async throws {
        let present = try await connection.run(Query.Migrator.schemaState).single().decode("present", as: Bool.self)
        let target = catalogue.migrations.last?.version ?? 0
        guard present else {
            throw MigrationError(code: .schemaBehind,
                                 message: "the database has no trellis schema of this version (this binary's is version \(target)): "
                                     + "run `trellis migrate up` with this binary first")
        }
        var applied: [MigrationStatus.AppliedMigration] = []
        var definitions: [MigrationStatus.AppliedDefinition] = []
        for row in try await connection.run(Query.Migrator.schemaStateRows).rows {
            let name: String = try row.decode("name")
            let checksum: String = try row.decode("checksum")
            if try row.decode("kind", as: String.self) == "migration" {
                applied.append(.init(version: try row.decode("version"), name: name, checksum: checksum))
            } else {
                definitions.append(.init(path: name, checksum: checksum))
            }
        }
        let status = MigrationStatus(catalogue: catalogue, applied: applied, definitions: definitions)
        try Migrator.refuseDrift(status)
        if !status.pending.isEmpty {
            throw MigrationError(code: .schemaBehind,
                                 message: "the database's trellis schema is at version \(status.currentVersion) and this binary's is "
                                     + "version \(target): run `trellis migrate up` with this binary first")
        }
        let differing = status.pendingDefinitions
        if let first = differing.first {
            throw MigrationError(code: .definitionsDiffer,
                                 message: "\(differing.count) of this binary's SQL definition file(s) differ from the database's "
                                     + "(\(first.path)\(differing.count > 1 ? ", …" : "")): another trellis build migrated it; "
                                     + "run `trellis migrate up` with this binary, or run the binary that migrated it")
        }
    }
}
