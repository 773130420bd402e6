import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// GET /v1/status: the fleet document for administrators.
@Suite("Relay status")
struct RelayStatusTests {
    @Test func administratorsReadTheFleetOthersAreRefused() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                _ = try await PrincipalStore(connection: conn).create("viewer", as: "admin")
                _ = try await SchedulerStore(connection: conn).registerScheduler(name: "lonely", handlers: ["echo"])
                _ = try await RunStore(connection: conn).start("linear-pipeline", inputs: ["{}", "{}"], as: "admin")
            }
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin")
                let reply = try await relay.request("GET", "/v1/status?stale_after_s=30", token: admin)
                #expect(reply.status == 200, "\(reply.body.prefix(300))")
                let status = try reply.json()
                #expect(status["schedulers"]?[0]?["name"] == .string("lonely"))
                #expect(status["runs"]?["queued"] == .number(2))
                #expect(status["stale_after_s"] == .number(30))
                let viewer = try await relay.token(for: "viewer")
                let refused = try await relay.request("GET", "/v1/status", token: viewer)
                #expect(refused.status == 403 && refused.errorCode == "forbidden", "\(refused.body)")
                let bad = try await relay.request("GET", "/v1/status?stale_after_s=-1", token: admin)
                #expect(bad.status == 400 && bad.errorCode == "invalid_input")
                #expect(try await relay.request("GET", "/v1/status", token: nil).status == 401)
            }
        }
    }
}
