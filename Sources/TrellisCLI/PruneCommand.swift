import ArgumentParser
import TrellisStore

/// `trellis prune`: retention for finished runs (administrators).
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished runs older than a cutoff, with their nodes, attempts, events and approvals.",
        discussion: """
            Works in batches of --batch runs, each its own short transaction that skips rows in use, \
            so it can run while schedulers are busy. Running, waiting, paused and queued runs are never \
            removed. --dry-run reports what would go. Administrators only.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions
    @Option(help: ArgumentHelp("Remove runs that finished longer ago than this: 30d, 12h, 90m …", valueName: "duration"))
    var olderThan: String
    @Option(help: "Runs per transaction (1 to 10000).") var batch = 500
    @Flag(help: "Only report what would be removed.") var dryRun = false

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1 to 10000") }
    }

    func run() async throws {
        try await connection.withConnection { conn in
            let store = HistoryStore(connection: conn)
            if dryRun {
                let preview = try await store.prunePreview(olderThan: olderThan, as: actor.name)
                print("would remove \(Self.describe(preview)) (finished before \(Console.timestamp(preview.cutoff)))")
                return
            }
            let total = try await store.prune(olderThan: olderThan, batch: batch, as: actor.name) {
                Console.note("pruned a batch: \(Self.describe($0))")
            }
            print("removed \(Self.describe(total)) (finished before \(Console.timestamp(total.cutoff)))")
        }
    }

    static func describe(_ pruned: HistoryStore.Pruned) -> String {
        "\(pruned.runs) run(s), \(pruned.nodeRuns) node run(s), \(pruned.attempts) attempt(s), "
            + "\(pruned.events) event(s), \(pruned.approvals) approval(s)"
    }
}
