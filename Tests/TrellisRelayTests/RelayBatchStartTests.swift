import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisStore
import TrellisTestSupport

/// POST /v1/workflows/{name}/runs:batch: many runs in one call, all or nothing.
@Suite("Relay batch start")
struct RelayBatchStartTests {
    @Test func startsEveryInputInOrderOrNothing() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url) { relay in
                let token = try await relay.token(for: "admin")
                let inputs = (0..<250).map { #"{"topic": "t\#($0)"}"# }.joined(separator: ", ")
                let reply = try await relay.request("POST", "/v1/workflows/linear-pipeline/runs:batch", token: token,
                                                    body: #"{"inputs": [\#(inputs)], "priority": 3}"#)
                #expect(reply.status == 202, "\(reply.body.prefix(300))")
                let json = try reply.json()
                #expect(json["count"] == .number(250))
                guard case .array(let runs) = json["runs"] else { Issue.record("no runs array: \(reply.body.prefix(200))"); return }
                #expect(runs.count == 250)
                // In input order, each queued with its own input and the shared priority.
                let ids = runs.compactMap { $0["run_id"]?.stringValue }
                try await PGConnection.withConnection(db.url) { conn in
                    let rows = try await conn.query("""
                        SELECT r.input ->> 'topic' AS topic, r.priority FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord)
                        JOIN trellis.workflow_runs r ON r.id = u.id ORDER BY u.ord
                        """, [ids]).rows
                    #expect(try rows.map { try $0.decode("topic", as: String.self) } == (0..<250).map { "t\($0)" })
                    #expect(try rows.allSatisfy { try $0.decode("priority", as: Int.self) == 3 })
                }

                let refusals: [(String, Int, String, String)] = [
                    (#"{"inputs": [{"a": 1}, [2], {"c": 3}]}"#, 400, "invalid_input", "inputs[1]"),
                    (#"{"inputs": []}"#, 400, "invalid_input", "non-empty"),
                    (#"{"inputs": {"a": 1}}"#, 400, "invalid_input", "non-empty"),
                    (#"{"inputs": [{}], "idempotency_key": "k"}"#, 400, "invalid_input", "idempotency_key"),
                    (#"{"inputs": [{}], "version": 99}"#, 404, "not_found", "no version 99"),
                ]
                for (body, status, code, says) in refusals {
                    let refused = try await relay.request("POST", "/v1/workflows/linear-pipeline/runs:batch", token: token, body: body)
                    #expect(refused.status == status, "\(body): \(refused.status) \(refused.body.prefix(200))")
                    #expect(try refused.json()["error"]?["code"] == .string(code), "\(body): \(refused.body.prefix(200))")
                    #expect(refused.body.contains(says), "\(body): \(refused.body.prefix(200))")
                }
                let unknown = try await relay.request("POST", "/v1/workflows/nope/runs:batch", token: token, body: #"{"inputs": [{}]}"#)
                #expect(unknown.status == 404)
                let anonymous = try await relay.request("POST", "/v1/workflows/linear-pipeline/runs:batch", token: nil, body: #"{"inputs": [{}]}"#)
                #expect(anonymous.status == 401)
                // Only the first, good batch started anything.
                let count = try await PGConnection.withConnection(db.url) {
                    try await $0.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
                }
                #expect(count == 250)
            }
        }
    }
}
