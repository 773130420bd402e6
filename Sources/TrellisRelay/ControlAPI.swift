import Foundation
import Hummingbird
import NIOCore
import TrellisCore
import TrellisPQ
import TrellisStore

/// The HTTP control API (JSON). Every action is checked by the SQL function it calls,
/// with the token's principal: view to read, run to start and to cancel/pause/resume,
/// approve to decide.
struct ControlAPI: Sendable {
    let relay: Relay

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        let maxBody = relay.options.maxBody

        api.post("workflows/:name/runs") { request, context in
            let name = try context.parameters.require("name")
            let body = try await Self.object(request, limit: maxBody)
            for key in body.keys where !["input", "priority", "idempotency_key", "version", "context"].contains(key) {
                throw RelayError(.badRequest, "invalid_input", "unknown field \"\(key)\" (expected input, priority, idempotency_key, version, context)")
            }
            let input = try Self.text(body["input"] ?? [String: Any]())
            var fields = body
            fields["input"] = nil
            let options = try Self.text(fields)
            let principal = try context.who
            let started = try await pool.withConnection { conn in
                try await conn.run(Query.Runs.start, [name, input, principal, options]).single()
            }
            let run: UUID = try started.decode("run_id")
            let id = run.uuidString.lowercased()
            let created: Bool = try started.decode("created")
            return HTTPReply.json(
                #"{"run_id": "\#(id)", "status": \#(JSONText.quote(try started.decode("status"))), "created": \#(created), "status_url": "/v1/runs/\#(id)", "events_url": "/v1/runs/\#(id)/events"}"#,
                status: .accepted)
        }

        // Many runs of one workflow in one call (start_runs): {"inputs": [{…}, …], "priority",
        // "version", "context"}. Every input is checked first; a refusal names it by position
        // (`inputs[i]`) and starts nothing.
        api.post("workflows/:name/runs:batch") { request, context in
            let name = try context.parameters.require("name")
            let body = try await Self.object(request, limit: maxBody)
            for key in body.keys where !["inputs", "priority", "version", "context"].contains(key) {
                throw RelayError(.badRequest, "invalid_input", "unknown field \"\(key)\" (expected inputs, priority, version, context)")
            }
            guard let inputs = body["inputs"] as? [Any], !inputs.isEmpty else {
                throw RelayError(.badRequest, "invalid_input", "inputs must be a non-empty array of JSON objects")
            }
            var fields = body
            fields["inputs"] = nil
            let options = try Self.text(fields), inputsText = try Self.text(inputs)
            let principal = try context.who
            let rows = try await pool.withConnection { conn in
                try await conn.run(Query.Runs.startMany, [name, inputsText, principal, options]).rows
            }
            let runs = try rows.map { row -> String in
                let id = try row.decode("run_id", as: UUID.self).uuidString.lowercased()
                return #"{"run_id": "\#(id)", "status": \#(JSONText.quote(try row.decode("status"))), "status_url": "/v1/runs/\#(id)"}"#
            }
            return HTTPReply.json(#"{"count": \#(runs.count), "runs": [\#(runs.joined(separator: ", "))]}"#, status: .accepted)
        }

        // The fleet on one screen (trellis.fleet_status), for administrators.
        api.get("status") { request, context in
            let staleAfter = try request.uri.queryParameters.get("stale_after_s").map { text -> Double in
                guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
                    throw RelayError(.badRequest, "invalid_input", "stale_after_s must be a positive number of seconds")
                }
                return seconds
            } ?? 60
            let principal = try context.who
            let status = try await pool.withConnection {
                try await FleetStore(connection: $0).status(as: principal, staleAfterSeconds: staleAfter)
            }
            return HTTPReply.json(status.text)
        }

        api.get("runs/:id") { _, context in
            let run = try Self.uuid(context.parameters.require("id"), "run")
            let snapshot: PGJSON = try await pool.withConnection {
                try await $0.run(Query.Relay.snapshot, [run, try context.who]).single().decode("snapshot")
            }
            return HTTPReply.json(snapshot.text)
        }

        api.get("workflows/:name/runs") { request, context in
            let name = try context.parameters.require("name")
            let query = request.uri.queryParameters
            let limit = try Self.integer(query.get("limit"), "limit") ?? 50
            let offset = try Self.integer(query.get("offset"), "offset") ?? 0
            let runs: PGJSON = try await pool.withConnection {
                try await $0.run(Query.Relay.listRuns, [name, try context.who, query.get("status"), limit, offset]).single().decode("runs")
            }
            return HTTPReply.json(#"{"runs": \#(runs.text)}"#)
        }

        api.post("runs/:id/:operation") { _, context in
            let run = try Self.uuid(context.parameters.require("id"), "run")
            guard let operation = RunStore.Control(rawValue: try context.parameters.require("operation")) else {
                throw RelayError(.notFound, "not_found", "unknown operation (expected cancel, pause or resume)")
            }
            let status = try await pool.withConnection {
                try await RunStore(connection: $0).control(operation, run: run, as: try context.who)
            }
            return HTTPReply.json(#"{"run_id": "\#(run.uuidString.lowercased())", "status": \#(JSONText.quote(status))}"#, status: .accepted)
        }

        api.get("approvals") { request, context in
            let status = request.uri.queryParameters.get("status") ?? "pending"
            let limit = try Self.integer(request.uri.queryParameters.get("limit"), "limit") ?? 100
            let items: PGJSON = try await pool.withConnection {
                try await $0.run(Query.Relay.listApprovals, [try context.who, status == "all" ? nil : status, limit]).single().decode("approvals")
            }
            return HTTPReply.json(#"{"approvals": \#(items.text)}"#)
        }

        api.post("approvals/:id") { request, context in
            let approval = try Self.uuid(context.parameters.require("id"), "approval")
            let body = try await Self.object(request, limit: maxBody)
            for key in body.keys where !["decision", "comment"].contains(key) {
                throw RelayError(.badRequest, "invalid_input", "unknown field \"\(key)\" (expected decision, comment)")
            }
            guard let decision = body["decision"] as? String, ["approve", "reject"].contains(decision) else {
                throw RelayError(.badRequest, "invalid_input", "decision must be \"approve\" or \"reject\"")
            }
            let status = try await Self.decide(pool, approval: approval, decision: decision, comment: body["comment"] as? String,
                                               as: try context.who)
            return HTTPReply.json(#"{"approval_id": "\#(approval.uuidString.lowercased())", "status": \#(JSONText.quote(status))}"#)
        }
    }

    static func decide(_ pool: ConnectionPool, approval: UUID, decision: String, comment: String?, as principal: String) async throws -> String {
        try await pool.withConnection {
            try await ApprovalStore(connection: $0).decide(approval, decision == "approve" ? .approve : .reject, as: principal, comment: comment)
        }
    }

    /// The request body as a JSON object (empty body: `{}`), at most `limit` bytes.
    static func object(_ request: Request, limit: Int) async throws -> [String: Any] {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        if buffer.readableBytes == 0 { return [:] }
        guard let value = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [.fragmentsAllowed]) else {
            throw RelayError(.badRequest, "invalid_json", "request body is not valid JSON")
        }
        guard let object = value as? [String: Any] else {
            throw RelayError(.badRequest, "invalid_json", "request body must be a JSON object")
        }
        return object
    }

    static func text(_ value: Any) throws -> String {
        // A number past double range (1e400) parses as infinity, which JSON cannot carry back.
        guard JSONSerialization.isValidJSONObject([value]),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) else {
            throw RelayError(.badRequest, "invalid_json", "request body holds a value JSON cannot carry (a number such as 1e400?)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func uuid(_ text: String, _ what: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw RelayError(.badRequest, "invalid_input", "\"\(text)\" is not a \(what) id (a UUID)") }
        return id
    }

    static func integer(_ text: String?, _ name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text) else { throw RelayError(.badRequest, "invalid_input", "\(name) must be an integer, got \"\(text)\"") }
        return value
    }
}
