import Foundation
import Testing
import TrellisPQ
import TrellisRelay
import TrellisStore
import TrellisTestSupport

/// `Relay.start()`: what a relay does before it serves.
@Suite("Relay start-up")
struct RelayStartTests {
    /// A schema this binary did not make: `start` throws the refusal, where a caller that
    /// only waited for the bound port would wait for ever.
    @Test func aSchemaFromAnotherBuildIsRefusedByStart() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection {
                try await $0.query("INSERT INTO trellis.schema_migrations (version, name, checksum) VALUES (9999, '9999_from_the_future', 'f00d')")
            }
            let error = await #expect(throws: MigrationError.self) {
                try await withDeadline(.seconds(60), "Relay.start against a newer schema") {
                    var options = Relay.Options()
                    options.port = 0
                    options.handleSignals = false
                    options.logLevel = .critical
                    _ = try await Relay(databaseURL: db.url, options: options).start()
                }
            }
            #expect(error?.code == .unknownApplied)
            #expect(error?.message.contains("9999") == true)
        }
    }

    /// A database that does not answer yet: the relay serves anyway and says so.
    @Test func anUnreachableDatabaseStillStartsTheRelay() async throws {
        let port = try LocalCluster.freePort()  // nothing listens there
        try await RelayHarness.with("postgresql://nobody@127.0.0.1:\(port)/absent") { relay in
            let health = try await relay.request("GET", "/healthz", token: nil)
            #expect(health.status == 503, "\(health.body)")
        }
    }
}
