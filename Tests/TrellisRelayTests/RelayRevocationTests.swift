import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisStore
import TrellisTestSupport

/// Open streams are checked again every `revalidateEvery` (200 ms here): a revoked token,
/// a revoked grant or a pruned run ends them with a clear error; caps bound what one
/// client may hold.
@Suite("Relay revocation and caps")
struct RelayRevocationTests {
    /// Runs that stay queued (no scheduler), so their streams stay open.
    private func seeded(_ db: TestDatabase) async throws -> [String] {
        try await db.withConnection { conn in
            _ = try await Seeder(connection: conn).load(as: "admin")
            let principals = PrincipalStore(connection: conn)
            try await principals.create("viewer", as: "admin")
            try await principals.grant("view", on: "linear-pipeline", to: "viewer", as: "admin")
            let runs = RunStore(connection: conn)
            var ids: [String] = []
            for _ in 0..<3 { ids.append(try await runs.start("linear-pipeline", input: #"{"record": 1}"#, as: "admin").runID.uuidString.lowercased()) }
            return ids
        }
    }

    /// Waits until the relay reports `count` connected stream clients.
    private func waitForClients(_ relay: RelayHarness, _ count: Int) async throws {
        try await waitUntil(timeout: .seconds(30), "\(count) stream client(s)") {
            let text = try await relay.request("GET", "/metrics", token: nil).body
            let line = text.split(separator: "\n").first { $0.hasPrefix("trellis_relay_clients ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) >= count } ?? false
        }
    }

    @Test func aRevokedTokenEndsItsOpenStreams() async throws {
        try await TestDatabase.withMigrated { db in
            let runs = try await seeded(db)
            try await RelayHarness.with(db.url, configure: { $0.revalidateEvery = .milliseconds(200) }) { relay in
                let (token, prefix) = try await relay.tokenWithPrefix(for: "viewer")
                let sse = Task { try await relay.request("GET", "/v1/runs/\(runs[0])/events", token: token) }
                try await waitForClients(relay, 1)
                let revokedAt = Mutex<ContinuousClock.Instant?>(nil)
                // The socket subscribes; once its hello arrives, the token is revoked.
                let messages = try await relay.webSocket(token: token, send: [#"{"op": "subscribe", "run_id": "\#(runs[0])"}"#],
                    revokeAfterFirst: {
                        _ = try await PGConnection.withConnection(db.url) { try await TokenStore(connection: $0).revoke(prefix, as: "admin") }
                        revokedAt.withLock { $0 = .now }
                    }, then: []) { $0.contains { $0.contains(#""code": "unauthorized""#) } }
                let stream = try await sse.value
                let elapsed = ContinuousClock.now - revokedAt.withLock { $0! }
                #expect(elapsed < .seconds(5))
                let events = try RelayHarness.sse(stream.body)
                #expect(events.last?.event == "error")
                #expect(events.last?.data["error"]?["code"] == .string("unauthorized"))
                #expect(try messages.map(decode).last?["code"] == .string("unauthorized"))
            }
        }
    }

    @Test func aRevokedGrantOrAPrunedRunEndsThatSubscription() async throws {
        try await TestDatabase.withMigrated { db in
            let runs = try await seeded(db)
            try await RelayHarness.with(db.url, configure: { $0.revalidateEvery = .milliseconds(200) }) { relay in
                let viewerToken = try await relay.token(for: "viewer")
                let viewer = try await relay.webSocket(token: viewerToken, send: [#"{"op": "subscribe", "run_id": "\#(runs[0])"}"#],
                    revokeAfterFirst: {
                        try await PGConnection.withConnection(db.url) {
                            _ = try await PrincipalStore(connection: $0).revoke("view", on: "linear-pipeline", from: "viewer", as: "admin")
                        }
                    }, then: []) { $0.contains { $0.contains(#""type": "error""#) } }
                let forbidden = try #require(try viewer.map(decode).last)
                #expect(forbidden["code"] == .string("forbidden"))
                #expect(forbidden["run_id"] == .string(runs[0]))

                let adminToken = try await relay.token(for: "admin")
                let admin = try await relay.webSocket(token: adminToken, send: [#"{"op": "subscribe", "run_id": "\#(runs[1])"}"#],
                    revokeAfterFirst: {
                        _ = try await PGConnection.withConnection(db.url) { try await $0.query("DELETE FROM trellis.workflow_runs WHERE id = $1::uuid", [runs[1]]) }
                    }, then: []) { $0.contains { $0.contains(#""type": "error""#) } }
                let pruned = try #require(try admin.map(decode).last)
                #expect(pruned["code"] == .string("not_found"))
                #expect(pruned["run_id"] == .string(runs[1]))
            }
        }
    }

    @Test func anOpOnARevokedTokenClosesTheSocket() async throws {
        try await TestDatabase.withMigrated { db in
            _ = try await seeded(db)
            // No periodic check in this test's lifetime: the op itself finds the revocation.
            try await RelayHarness.with(db.url, configure: { $0.revalidateEvery = .seconds(3600) }) { relay in
                let (token, prefix) = try await relay.tokenWithPrefix(for: "viewer")
                let messages = try await relay.webSocket(token: token, send: [
                    #"{"op": "ping", "id": 1}"#,
                ], revokeAfterFirst: { try await PGConnection.withConnection(db.url) { _ = try await TokenStore(connection: $0).revoke(prefix, as: "admin") } },
                    then: [#"{"op": "ping", "id": 2}"#]) { $0.count == 2 }
                let replies = try messages.map(decode)
                #expect(replies[0]["type"] == .string("pong"))
                #expect(replies[1]["code"] == .string("unauthorized"))
            }
        }
    }

    @Test func capsBoundSubscriptionsAndStreams() async throws {
        try await TestDatabase.withMigrated { db in
            let runs = try await seeded(db)
            try await RelayHarness.with(db.url, configure: { $0.maxSubscriptionsPerSocket = 2; $0.maxStreams = 1 }) { relay in
                let token = try await relay.token(for: "admin")
                let messages = try await relay.webSocket(token: token, send: runs.enumerated().map {
                    #"{"op": "subscribe", "run_id": "\#($0.element)", "id": \#($0.offset)}"#
                }) { $0.contains { $0.contains("too_many_subscriptions") } }
                #expect(try messages.map(decode).last?["id"] == .number(2))
                // While a WebSocket holds the one stream slot, an SSE stream is refused with 503.
                let refusal = Mutex<RelayHarness.Reply?>(nil)
                _ = try await relay.webSocket(token: token, send: [#"{"op": "subscribe", "run_id": "\#(runs[0])"}"#],
                    revokeAfterFirst: {
                        let reply = try await relay.request("GET", "/v1/runs/\(runs[1])/events", token: token)
                        refusal.withLock { $0 = reply }
                    }, then: []) { $0.count >= 2 }
                let refused = try #require(refusal.withLock { $0 })
                #expect(refused.status == 503)
                #expect(try refused.json()["error"]?["code"] == .string("too_many_connections"))
            }
        }
    }
}
