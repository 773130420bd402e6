import ArgumentParser
import Foundation
import TrellisStore

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Load the example templates and workflows (idempotent).",
        discussion: "Uses the seeds built into this binary, or --dir with templates/ and workflows/ folders.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions
    @Option(help: "A directory laid out like seeds/.") var dir: String?

    func run() async throws {
        let files = try dir.map { try Seeder.files(in: URL(fileURLWithPath: $0)) } ?? SQLCatalogue.embedded.seeds
        if files.isEmpty { throw CLIError("no seed files found\(dir.map { " in \($0)" } ?? "")") }
        let loaded = try await connection.withConnection { try await Seeder(connection: $0).load(files, as: actor.name) }
        for item in loaded {
            let verb = item.created ? "loaded   " : "unchanged"
            print("\(verb)  \(item.kind.rawValue) \(item.name) v\(item.version)  (\(item.path))")
        }
    }
}
