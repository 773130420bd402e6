import ArgumentParser
import TrellisCore
import TrellisPQ
import TrellisStore

/// `trellis history`: the common analyst questions over the history views
/// (docs/history.md has the SQL behind each and many more).
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Answer common questions about run history (stats, failures, slowest runs).",
        discussion: "Reads trellis.workflow_stats, node_history and run_history; --format json|csv for scripts.",
        subcommands: [Stats.self, Failures.self, Slowest.self]
    )

    struct Window: ParsableArguments {
        @Option(help: "Only workflow W.") var workflow: String?
        @Option(help: ArgumentHelp("How far back: 30m, 12h, 7d …", valueName: "duration")) var since = "7d"
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per workflow and version: runs, outcomes, success rate, duration p50/p95/p99, cost, most failing node.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var window: Window
        @OptionGroup var output: FormatOptions

        func run() async throws {
            let result = try await connection.withConnection {
                try await HistoryStore(connection: $0).stats(since: window.since, workflow: window.workflow)
            }
            print(ResultTable.tabular(result).render(output.format))
        }
    }

    /// Options and output shared by the questions that list rows.
    struct Listing: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var window: Window
        @Option(help: "At most N rows.") var limit = 20
        @OptionGroup var output: FormatOptions

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func print(_ query: (HistoryStore, Window, Int) async throws -> PGResult) async throws {
            let result = try await connection.withConnection { try await query(HistoryStore(connection: $0), window, limit) }
            Swift.print(ResultTable.tabular(result).render(output.format))
        }
    }

    struct Failures: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Failed node runs, newest first, with their errors.")
        @OptionGroup var listing: Listing

        func run() async throws {
            try await listing.print { try await $0.failures(since: $1.since, workflow: $1.workflow, limit: $2) }
        }
    }

    struct Slowest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The longest finished runs, with queue time, attempts and cost (default: 20).")
        @OptionGroup var listing: Listing

        func run() async throws {
            try await listing.print { try await $0.slowest(since: $1.since, workflow: $1.workflow, limit: $2) }
        }
    }
}
