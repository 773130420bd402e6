import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisStore
import TrellisTestSupport

/// Hostile HTTP and WebSocket input gets a 4xx with a clear code, writes nothing, and the
/// relay stays up.
@Suite("Relay under hostile input")
struct RelayHostileInputTests {
    @Test func malformedAndOutOfRangeBodiesAreRefusedCleanly() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url, configure: { $0.maxBody = 4096 }) { relay in
                let token = try await relay.token(for: "admin")
                let bodies: [(String, Int, String)] = [
                    (#"{"input": 1e400}"#, 400, "invalid_json"),
                    (#"{"input": {"a": [1, -1e400]}}"#, 400, "invalid_json"),
                    ("{", 400, "invalid_json"),
                    ("[1, 2]", 400, "invalid_json"),
                    ("\"just a string\"", 400, "invalid_json"),
                    (#"{"input": "not an object"}"#, 400, "invalid_input"),
                    (#"{"priority": "high"}"#, 400, "invalid_input"),
                    (#"{"priority": 1e12}"#, 400, "invalid_input"),
                    (#"{"version": -3}"#, 404, "not_found"),
                    (#"{"surprise": true}"#, 400, "invalid_input"),
                    (#"{"input": {"x": "\#(String(repeating: "y", count: 10_000))"}}"#, 413, "too_large"),
                    (String(repeating: "[", count: 3000), 400, "invalid_json"),
                ]
                for (body, status, code) in bodies {
                    let reply = try await relay.request("POST", "/v1/workflows/linear-pipeline/runs", token: token, body: body)
                    #expect(reply.status == status, "\(body.prefix(60)): \(reply.status) \(reply.body.prefix(200))")
                    #expect(try reply.json()["error"]?["code"] == .string(code), "\(body.prefix(60)): \(reply.body.prefix(200))")
                }
                // A NUL byte cannot live in PostgreSQL text: refused as input (found by schemathesis; was a 500).
                for (method, path, body) in [("POST", "/v1/grants", #"{"workflow": "linear-pipeline", "principal": "a\u0000b", "privilege": "run"}"#),
                                             ("POST", "/v1/principals", #"{"name": "x\u0000"}"#),
                                             ("GET", "/v1/runs?workflow=a%00b", nil)] {
                    let reply = try await relay.request(method, path, token: token, body: body)
                    #expect(reply.status == 400 && reply.errorCode == "invalid_input", "\(path): \(reply.status) \(reply.body)")
                }
                let wrongTypes = try await relay.request("GET", "/v1/workflows/linear-pipeline/runs?limit=lots", token: token)
                #expect(wrongTypes.status == 400)
                // Nothing was started by any of it, and the relay still serves.
                let runs = try await PGConnection.withConnection(db.url) {
                    try await $0.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
                }
                #expect(runs == 0)
                #expect(try await relay.request("GET", "/healthz", token: nil).status == 200)
            }
        }
    }

    @Test func hostileWebSocketMessagesAreAnsweredOrClosedAndTheRelayLives() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url) { relay in
                let token = try await relay.token(for: "admin")
                let replies = try await relay.webSocket(token: token, send: [
                    #"{"op": 7}"#, #"{"op": "subscribe", "run_id": 12}"#, #"{"op": "subscribe", "run_id": "\#(UUID().uuidString)", "after": -1}"#,
                    #"{"op": "subscribe", "run_id": "\#(UUID().uuidString)", "after": 1e400}"#, "[]", "null", #"{"op": "ping", "id": {"x": 1}}"#,
                ]) { $0.count == 7 }
                for reply in try replies.map(decode) {
                    #expect(reply["type"] == .string("error") || reply["type"] == .string("pong"), "\(reply)")
                }
                // An oversized frame (over 64 KiB) ends that socket; the relay goes on serving.
                let oversized = try? await relay.webSocket(token: token, send: [String(repeating: "x", count: 200_000)]) { _ in false }
                #expect((oversized ?? []).isEmpty)
                #expect(try await relay.request("GET", "/healthz", token: nil).status == 200)
                let after = try await relay.webSocket(token: token, send: [#"{"op": "ping", "id": 1}"#]) { $0.count == 1 }
                #expect(try decode(after[0])["type"] == .string("pong"))
            }
        }
    }
}
