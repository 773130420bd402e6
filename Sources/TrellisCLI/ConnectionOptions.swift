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

    /// Opens a connection, starting the local cluster when no URL is configured.
    func connect() async throws -> PGConnection {
        let url = try await locator.resolve { Console.note($0) }
        return try await PGConnection.connect(url)
    }

    /// Runs `body` with a connection that is closed afterwards.
    @discardableResult
    func withConnection<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws -> T {
        let connection = try await connect()
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }
}
