import ArgumentParser
import TrellisPQ
import TrellisStore

/// `--database-url`, shared by every command that talks to the database.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "PostgreSQL URL (postgresql://user@host:port/db). Default: TRELLIS_DATABASE_URL, else the local cluster.",
        valueName: "url"))
    var databaseURL: String?

    var locator: DatabaseLocator { DatabaseLocator(explicitURL: databaseURL) }

    /// Runs `body` with a connection that is closed afterwards, starting the local cluster
    /// when no URL is configured.
    @discardableResult
    func withConnection<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws -> T {
        let url = try await locator.resolve { Console.note($0) }
        return try await PGConnection.withConnection(url, body)
    }
}
