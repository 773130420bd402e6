import ArgumentParser
import Foundation

/// `trellis sql`: psql on the configured database, for analysts and operators.
struct SQLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Open psql on the configured database (or print its URL).",
        discussion: "Arguments after -- go to psql, e.g. trellis sql -- -c 'SELECT * FROM trellis.run_history LIMIT 5'.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the database URL instead of starting psql.") var printURL = false
    @Argument(parsing: .postTerminator, help: "Arguments passed to psql.") var psqlArguments: [String] = []

    func run() async throws {
        let url = try await connection.locator.resolve { Console.note($0) }
        if printURL {
            print(url)
            return
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let psql = path.split(separator: ":").map({ "\($0)/psql" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw CLIError("psql is not installed (apt-get install postgresql-client); the database URL is \(url)")
        }
        // Replace this process, so psql owns the terminal and its exit status is ours.
        let argv = [psql, url] + psqlArguments
        var cArgs = argv.map { strdup($0) } + [nil]
        execv(psql, &cArgs)
        throw CLIError("could not start \(psql): \(String(cString: strerror(errno)))")
    }
}
