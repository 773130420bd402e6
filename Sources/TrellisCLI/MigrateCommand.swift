import ArgumentParser
import TrellisCore
import TrellisPQ
import TrellisStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply and inspect schema migrations.",
        subcommands: [Up.self, Status.self, Verify.self],
        defaultSubcommand: Status.self
    )

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending migrations, then re-apply changed definitions under sql/.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let report = try await connection.withConnection { try await Migrator(connection: $0).up() }
            for step in report.appliedMigrations {
                print("applied   \(step.name)  (\(Console.duration(step.durationMilliseconds)))")
            }
            if !report.appliedDefinitions.isEmpty {
                let total = report.appliedDefinitions.map(\.durationMilliseconds).reduce(0, +)
                print("defined   \(report.appliedDefinitions.count) definition file(s) from sql/  (\(Console.duration(total)))")
            }
            if report.appliedMigrations.isEmpty && report.appliedDefinitions.isEmpty {
                print("schema is up to date at version \(report.version)")
            } else {
                print("schema is at version \(report.version)")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show applied, pending and changed migrations (changes nothing).")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let (status, endpoint) = try await connection.withConnection { conn in
                (try await Migrator(connection: conn).status(), conn.endpoint)
            }
            print(MigrateCommand.render(status, endpoint: endpoint))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fail when an applied migration changed or is unknown to this binary (changes nothing).")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let status = try await connection.withConnection { try await Migrator(connection: $0).verify() }
            let applied = status.migrations.filter { $0.state == .applied }.count
            var line = "ok: \(applied) applied migration(s) match this binary"
            if !status.pending.isEmpty { line += "; \(status.pending.count) pending" }
            if !status.pendingDefinitions.isEmpty { line += "; \(status.pendingDefinitions.count) definition file(s) to re-apply" }
            print(line)
        }
    }

    static func render(_ status: MigrationStatus, endpoint: String) -> String {
        var table = TextTable(headers: ["VERSION", "NAME", "STATE", "APPLIED AT", "DURATION", "CHECKSUM"])
        for entry in status.migrations {
            table.append([
                String(format: "%04d", entry.version), entry.name, entry.state.rawValue,
                Console.timestamp(entry.appliedAt), Console.duration(entry.durationMilliseconds),
                String((entry.fileChecksum ?? entry.appliedChecksum ?? "").prefix(12)),
            ])
        }
        var summary = "schema version \(status.currentVersion)"
        if !status.drift.isEmpty {
            summary += ": DRIFT in \(status.drift.count) migration(s); see `trellis migrate verify`"
        } else if status.isUpToDate {
            summary += ", up to date"
        } else {
            summary += ", \(status.pending.count) migration(s) and \(status.pendingDefinitions.count) definition file(s) pending; run `trellis migrate up`"
        }
        let current = status.definitions.filter { $0.state == .current }.count
        var lines = [endpoint, "", table.render(), "", "definitions: \(current) current, \(status.pendingDefinitions.count) pending"]
        for entry in status.definitions where entry.state != .current {
            lines.append("  \(entry.state.rawValue)  \(entry.path)")
        }
        lines.append(summary)
        return lines.joined(separator: "\n")
    }
}
