import ArgumentParser
import Foundation
import TrellisRelay

/// `trellis relay`: the push relay and HTTP control API.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Serve the HTTP control API and stream run events over SSE and WebSocket.",
        discussion: """
            Stateless: run as many as you like against one database. Clients present a bearer token \
            (trellis token create). SIGTERM/SIGINT stop it gracefully.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port, printed at start).") var port = 8080
    @Option(help: "Database connections for requests and streams.") var pool = 8
    @Option(help: "Largest request body in bytes.") var maxBody = 1 << 20
    @Option(help: "Largest artifact upload in bytes (streamed; 413 past it).") var maxArtifactBytes = 1 << 30
    @Option(help: "Seconds a client may leave sent data unacknowledged or unread before its connection is closed (0: the kernel's limits).")
    var sendTimeout = 30
    @Option(help: "Open streams (SSE responses and WebSockets) at most, for the relay.") var maxStreams = 10_000
    @Option(help: "Open streams one principal may hold at once (429 past it; a WebSocket is one stream).")
    var maxStreamsPerPrincipal = 1_000
    @Option(help: "Connections the kernel queues before the relay accepts them (capped by net.core.somaxconn): room for a reconnect storm.")
    var backlog = 4096
    @Option(help: "Seconds between checks that the database's schema is still the one this binary makes, as at start (0: only at start). A mismatch stops the relay with exit 78.")
    var schemaCheckInterval = 60

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard pool >= 1 else { throw ValidationError("--pool must be at least 1") }
        guard maxBody >= 1024 else { throw ValidationError("--max-body must be at least 1024") }
        guard (0...3600).contains(sendTimeout) else { throw ValidationError("--send-timeout must be 0 to 3600 seconds") }
        guard (1...65535).contains(backlog) else { throw ValidationError("--backlog must be 1 to 65535") }
        guard (0...86_400).contains(schemaCheckInterval) else { throw ValidationError("--schema-check-interval must be 0 to 86400 seconds") }
        guard maxStreams >= 1 else { throw ValidationError("--max-streams must be at least 1") }
        guard (1...maxStreams).contains(maxStreamsPerPrincipal) else {
            throw ValidationError("--max-streams-per-principal must be 1 to --max-streams (\(maxStreams))")
        }
    }

    func run() async throws {
        var options = Relay.Options()
        options.host = host
        options.port = port
        options.poolSize = pool
        options.maxBody = maxBody
        options.maxArtifactBytes = maxArtifactBytes
        options.sendTimeout = .seconds(sendTimeout)
        options.maxStreams = maxStreams
        options.maxStreamsPerPrincipal = maxStreamsPerPrincipal
        options.backlog = backlog
        options.schemaCheckInterval = schemaCheckInterval > 0 ? .seconds(schemaCheckInterval) : nil
        let relay = Relay(databaseURL: try await connection.locator.resolve { Console.note($0) }, options: options)
        let host = self.host
        try await SchemaRefusal.mapped {
            try await relay.run { port in
                // Unbuffered, so a supervisor or test reading the pipe sees it at once.
                FileHandle.standardOutput.write(Data("relay listening on http://\(host):\(port)\n".utf8))
            }
        }
    }
}
