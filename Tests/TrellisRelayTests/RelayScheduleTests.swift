import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisStore
import TrellisTestSupport

/// /v1/schedules: the schedule SQL API over HTTP, with its refusals.
@Suite("Relay schedules")
struct RelayScheduleTests {
    @Test func createListShowPauseResumeDeleteAndRefusals() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                _ = try await conn.query("SELECT trellis.create_principal('viewer', 'user')")
                _ = try await PrincipalStore(connection: conn).grant("view", on: "linear-pipeline", to: "viewer", as: "admin")
            }
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin")
                let viewer = try await relay.token(for: "viewer")
                let body = #"{"name": "nightly", "workflow": "linear-pipeline", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "input": {"record": 1}}"#
                let created = try await relay.request("POST", "/v1/schedules", token: admin, body: body)
                #expect(created.status == 201, "\(created.body)")
                let schedule = try created.json()
                #expect(schedule["timezone"] == .string("Europe/Berlin"))
                #expect(schedule["catch_up"] == .string("one"))
                #expect(schedule["upcoming"]?.arrayValue?.count == 3)
                #expect(schedule["owner"] == .string("admin"))

                let listed = try await relay.request("GET", "/v1/schedules", token: viewer)
                #expect(listed.status == 200)
                #expect(try listed.json()["schedules"]?[0]?["name"] == .string("nightly"))
                let shown = try await relay.request("GET", "/v1/schedules/nightly", token: viewer)
                #expect(shown.status == 200)
                #expect(try shown.json()["recent_fires"] == .array([]))

                let paused = try await relay.request("POST", "/v1/schedules/nightly/pause", token: admin)
                #expect(paused.status == 200)
                #expect(try paused.json()["enabled"] == .bool(false))
                let resumed = try await relay.request("POST", "/v1/schedules/nightly/resume", token: admin)
                #expect(try resumed.json()["enabled"] == .bool(true))

                let refusals: [(String, String, String?, String?, Int, String)] = [
                    ("POST", "/v1/schedules", viewer, body, 403, "forbidden"),
                    ("POST", "/v1/schedules", admin, body, 409, "conflict"),
                    ("POST", "/v1/schedules", admin, #"{"name": "x", "workflow": "linear-pipeline"}"#, 400, "invalid_input"),
                    ("POST", "/v1/schedules", admin, #"{"name": "x", "workflow": "linear-pipeline", "cron": "61 * * * *"}"#, 400, "invalid_input"),
                    ("POST", "/v1/schedules", admin, #"{"name": "x", "workflow": "linear-pipeline", "cron": "@daily", "timezone": "Mars/Base"}"#, 400, "invalid_input"),
                    ("POST", "/v1/schedules", admin, #"{"name": "x", "workflow": "linear-pipeline", "cron": "@daily", "every": 1}"#, 400, "invalid_input"),
                    ("POST", "/v1/schedules", admin, #"{"name": "x", "workflow": "nope", "cron": "@daily"}"#, 404, "not_found"),
                    ("POST", "/v1/schedules", nil, body, 401, "unauthorized"),
                    ("POST", "/v1/schedules/nightly/pause", viewer, nil, 403, "forbidden"),
                    ("POST", "/v1/schedules/nightly/explode", admin, nil, 404, "not_found"),
                    ("GET", "/v1/schedules/nope", admin, nil, 404, "not_found"),
                    ("DELETE", "/v1/schedules/nightly", viewer, nil, 403, "forbidden"),
                ]
                for (method, path, token, payload, status, code) in refusals {
                    let reply = try await relay.request(method, path, token: token, body: payload)
                    #expect(reply.status == status, "\(method) \(path) \(payload ?? ""): \(reply.status) \(reply.body)")
                    #expect(reply.errorCode == code, "\(method) \(path): \(reply.body)")
                }
                let deleted = try await relay.request("DELETE", "/v1/schedules/nightly", token: admin)
                #expect(deleted.status == 204)
                #expect(try await relay.request("GET", "/v1/schedules", token: admin).json()["schedules"] == .array([]))
            }
        }
    }
}
