import Foundation
import Hummingbird
import NIOCore
import TrellisCore
import TrellisPQ
import TrellisStore

/// The HTTP API for runs, approvals and the fleet (JSON). Every action is checked by the
/// SQL function it calls, with the token's principal: view to read, run to start and to
/// cancel/pause/resume, approve to decide. Workflows and templates are `WorkflowAPI`'s,
/// principals, grants and tokens `AdminAPI`'s.
struct ControlAPI: Sendable {
    let relay: Relay

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        let maxBody = relay.options.maxBody

        api.post("workflows/:name/runs") { request, context in
            let name = try context.parameters.require("name")
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["input", "priority", "idempotency_key", "version", "context"])
            let input = try RequestInput.json(body["input"] ?? [String: Any]())
            var fields = body
            fields["input"] = nil
            let options = try RequestInput.json(fields)
            let principal = try context.who
            let started = try await pool.withConnection {
                try await RunStore(connection: $0).start(name, input: input, options: options, as: principal)
            }
            let id = started.runID.uuidString.lowercased()
            return HTTPReply.json(
                #"{"run_id": "\#(id)", "status": \#(JSONText.quote(started.status)), "created": \#(started.created), "status_url": "/v1/runs/\#(id)", "events_url": "/v1/runs/\#(id)/events"}"#,
                status: .accepted)
        }

        // Many runs of one workflow in one call (start_runs): {"inputs": [{…}, …], "priority",
        // "version", "context"}. Every input is checked first; a refusal names it by position
        // (`inputs[i]`) and starts nothing.
        api.post("workflows/:name/runs:batch") { request, context in
            let name = try context.parameters.require("name")
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["inputs", "priority", "version", "context"])
            guard let inputs = body["inputs"] as? [Any], !inputs.isEmpty else {
                throw RelayError(.badRequest, "invalid_input", "inputs must be a non-empty array of JSON objects")
            }
            var fields = body
            fields["inputs"] = nil
            let options = try RequestInput.json(fields), inputsText = try RequestInput.json(inputs)
            let principal = try context.who
            let started = try await pool.withConnection {
                try await RunStore(connection: $0).start(name, inputArray: inputsText, options: options, as: principal)
            }
            let runs = started.map { run -> String in
                let id = run.runID.uuidString.lowercased()
                return #"{"run_id": "\#(id)", "status": \#(JSONText.quote(run.status)), "status_url": "/v1/runs/\#(id)"}"#
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

        // Runs of every workflow the token may view: filters and keyset paging (next_cursor).
        api.get("runs") { request, context in
            let query = request.uri.queryParameters
            let filter = APIStore.RunFilter(
                workflow: query.get("workflow"), status: query.get("status"), startedBy: query.get("started_by"),
                since: query.get("since"), until: query.get("until"),
                limit: try RequestInput.integer(query.get("limit"), "limit") ?? 50, cursor: query.get("cursor"))
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection { try await APIStore(connection: $0).runs(filter, as: principal) }.text)
        }

        api.get("runs/:id") { _, context in
            let run = try RequestInput.uuid(context.parameters.require("id"), "run")
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection { try await APIStore(connection: $0).snapshot(of: run, as: principal) }.text)
        }

        api.get("runs/:id/nodes/:key") { request, context in
            let run = try RequestInput.uuid(context.parameters.require("id"), "run")
            let key = try context.parameters.require("key")
            let logs = try RequestInput.integer(request.uri.queryParameters.get("logs"), "logs") ?? 50
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection {
                try await APIStore(connection: $0).node(key, of: run, logs: logs, as: principal)
            }.text)
        }

        // The node's whole output: inline outputs as they are stored, an output too large
        // to store inline (a reference with "truncated": true) streamed from its artifact.
        api.get("runs/:id/nodes/:key/output") { request, context in
            let run = try RequestInput.uuid(context.parameters.require("id"), "run")
            let key = try context.parameters.require("key")
            let principal = try context.who
            let detail = try await pool.withConnection { try await APIStore(connection: $0).node(key, of: run, logs: 0, as: principal) }
            let node = try detail.decode(JSONValue.self)
            guard let output = node["output"], output != .null else {
                throw RelayError(.notFound, "not_found",
                                 "node \(key) of run \(run.uuidString.lowercased()) has no output (it is \(node["status"]?.stringValue ?? "unknown"))")
            }
            if let stored = ArtifactReference(output), stored.isStoredOutput {
                return try await ArtifactAPI.download(stored.id, as: principal, request: request, pool: pool)
            }
            return HTTPReply.json(String(decoding: try JSONEncoder().encode(output), as: UTF8.self))
        }

        api.get("workflows/:name/runs") { request, context in
            let name = try context.parameters.require("name")
            let query = request.uri.queryParameters
            let limit = try RequestInput.integer(query.get("limit"), "limit") ?? 50
            let offset = try RequestInput.integer(query.get("offset"), "offset") ?? 0
            let principal = try context.who
            let runs = try await pool.withConnection {
                try await APIStore(connection: $0).workflowRuns(name, status: query.get("status"), limit: limit, offset: offset, as: principal)
            }
            return HTTPReply.json(#"{"runs": \#(runs.text)}"#)
        }

        // A finished run again, as a new run linked to it: 201 with the new run.
        api.post("runs/:id/retry") { request, context in
            let run = try RequestInput.uuid(context.parameters.require("id"), "run")
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["mode"])
            let modeText = try RequestInput.string(body, "mode") ?? RunStore.RetryMode.fromFailed.rawValue
            guard let mode = RunStore.RetryMode(rawValue: modeText) else {
                throw RelayError(.badRequest, "invalid_input", "mode must be from_failed or all, got \(JSONText.quote(modeText))")
            }
            let retried = try await pool.withConnection { try await RunStore(connection: $0).retry(run, mode: mode, as: try context.who) }
            return HTTPReply.json(#"{"run_id": "\#(retried.id.uuidString.lowercased())", "status": \#(JSONText.quote(retried.status)), "retry_of": "\#(run.uuidString.lowercased())", "reused": \#(retried.reused)}"#, status: .created)
        }

        api.post("runs/:id/:operation") { _, context in
            let run = try RequestInput.uuid(context.parameters.require("id"), "run")
            guard let operation = RunStore.Control(rawValue: try context.parameters.require("operation")) else {
                throw RelayError(.notFound, "not_found", "unknown operation (expected cancel, pause or resume)")
            }
            let status = try await pool.withConnection {
                try await RunStore(connection: $0).control(operation, run: run, as: try context.who)
            }
            return HTTPReply.json(#"{"run_id": "\#(run.uuidString.lowercased())", "status": \#(JSONText.quote(status))}"#, status: .accepted)
        }

        // workflow_stats over a window, for the workflows the token may view.
        api.get("stats") { request, context in
            let query = request.uri.queryParameters
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection {
                try await APIStore(connection: $0).stats(since: query.get("since"), until: query.get("until"), as: principal)
            }.text)
        }

        api.get("approvals") { request, context in
            let status = request.uri.queryParameters.get("status") ?? "pending"
            let limit = try RequestInput.integer(request.uri.queryParameters.get("limit"), "limit") ?? 100
            let principal = try context.who
            let items = try await pool.withConnection {
                try await APIStore(connection: $0).approvals(status: status == "all" ? nil : status, limit: limit, as: principal)
            }
            return HTTPReply.json(#"{"approvals": \#(items.text)}"#)
        }

        api.post("approvals/:id") { request, context in
            let approval = try RequestInput.uuid(context.parameters.require("id"), "approval")
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["decision", "comment"])
            guard let decision = body["decision"] as? String, ["approve", "reject"].contains(decision) else {
                throw RelayError(.badRequest, "invalid_input", "decision must be \"approve\" or \"reject\"")
            }
            let status = try await Self.decide(pool, approval: approval, decision: decision,
                                               comment: try RequestInput.string(body, "comment"), as: try context.who)
            return HTTPReply.json(#"{"approval_id": "\#(approval.uuidString.lowercased())", "status": \#(JSONText.quote(status))}"#)
        }
    }

    static func decide(_ pool: ConnectionPool, approval: UUID, decision: String, comment: String?, as principal: String) async throws -> String {
        try await pool.withConnection {
            try await ApprovalStore(connection: $0).decide(approval, decision == "approve" ? .approve : .reject, as: principal, comment: comment)
        }
    }
}
