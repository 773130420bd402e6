import ArgumentParser
import TrellisCore

@main
struct Trellis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trellis",
        abstract: "SQL-first workflow database with stored run history.",
        discussion: """
            Commands that need a database use --database-url, else TRELLIS_DATABASE_URL, \
            else a private PostgreSQL cluster under ./.trellis (or TRELLIS_HOME), started on demand.
            """,
        version: TrellisVersion.current,
        subcommands: [
            MigrateCommand.self, DBCommand.self, WorkflowCommand.self, TemplateCommand.self, PrincipalCommand.self,
            GrantCommand.self, RevokeCommand.self, GrantsCommand.self, SeedCommand.self, RunCommand.self,
            SchedulerCommand.self, ApprovalCommand.self, HistoryCommand.self, PruneCommand.self, SQLCommand.self, TokenCommand.self, RelayCommand.self,
            ScheduleCommand.self, ArtifactCommand.self, StatusCommand.self, BenchCommand.self, ChaosCommand.self,
        ]
    )
}
