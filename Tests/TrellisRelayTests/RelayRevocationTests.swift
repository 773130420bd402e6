import Foundation
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

    @Test func aRevokedTokenEndsItsOpenStreams() async throws {
        try await TestDatabase.withMigrated { db in
            let runs = try await seeded(db)
            try await RelayHarness.with(db.url, configure: { $0.revalidateEvery = .milliseconds(200) }) { relay in
                let (token, prefix) = try await relay.tokenWithPrefix(for: "viewer")
                let sse = Task { try await relay.request("GET", "/v1/runs/\(runs[0])/events", token: token) }
                let ws = Task {
                    try await relay.webSocket(token: token, send: [#"{"op": "subscribe", "run_id": "\#(runs[0])"}"#]) {
                        $0.contains { $0.contains(#""code": "unauthorized""#) }
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
                _ = try await PGConnection.withConnection(db.url) { try await TokenStore(connection: $0).revoke(prefix, as: "admin") }
                let revokedAt = ContinuousClock.now
                let stream = try await sse.value
                let messages = try await ws.value
                #expect(ContinuousClock.now - revokedAt < .seconds(5))
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
                let viewer = Task {
                    try await relay.webSocket(token: viewerToken, send: [#"{"op": "subscribe", "run_id": "\#(runs[0])"}"#]) {
                        $0.contains { $0.contains(#""type": "error""#) }
                    }
                }
                let adminToken = try await relay.token(for: "admin")
                let admin = Task {
                    try await relay.webSocket(token: adminToken, send: [#"{"op": "subscribe", "run_id": "\#(runs[1])"}"#]) {
                        $0.contains { $0.contains(#""type": "error""#) }
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
                try await PGConnection.withConnection(db.url) { conn in
                    _ = try await PrincipalStore(connection: conn).revoke("view", on: "linear-pipeline", from: "viewer", as: "admin")
                    try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1::uuid", [runs[1]])
                }
                let forbidden = try #require(try await viewer.value.map(decode).last)
                #expect(forbidden["code"] == .string("forbidden"))
                #expect(forbidden["run_id"] == .string(runs[0]))
                let pruned = try #require(try await admin.value.map(decode).last)
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
                // The one stream slot is taken by a WebSocket: an SSE stream is refused with 503.
                let holder = Task {
                    try await relay.webSocket(token: token, send: [#"{"op": "subscribe", "run_id": "\#(runs[0])"}"#]) { $0.count >= 50 }
                }
                try await Task.sleep(for: .milliseconds(300))
                let refused = try await relay.request("GET", "/v1/runs/\(runs[1])/events", token: token)
                #expect(refused.status == 503)
                #expect(try refused.json()["error"]?["code"] == .string("too_many_connections"))
                holder.cancel()
            }
        }
    }
}
