import Foundation
import Hummingbird
import TrellisCore
import TrellisPQ
import TrellisStore

/// The HTTP API for schedules: the same SQL functions and privileges as `trellis schedule`
/// (`view` to read, `run` to create, pause, resume and delete; runs start as the owner).
struct ScheduleAPI: Sendable {
    let relay: Relay

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        let maxBody = relay.options.maxBody

        api.get("schedules") { _, context in
            let actor = try context.who
            let list = try await pool.withConnection { try await ScheduleStore(connection: $0).list(as: actor) }
            return HTTPReply.json(#"{"schedules": \#(list.text)}"#)
        }

        // {"name", "workflow", "cron", "timezone"?, "input"?, "catch_up"?, "catch_up_max"?}
        api.post("schedules") { request, context in
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["name", "workflow", "cron", "timezone", "input", "catch_up", "catch_up_max"])
            func required(_ key: String) throws -> String {
                guard let value = try RequestInput.string(body, key) else { throw RelayError(.badRequest, "invalid_input", "\(key) is required") }
                return value
            }
            var spec = ScheduleStore.Spec(name: try required("name"), workflow: try required("workflow"), cron: try required("cron"))
            spec.timezone = try RequestInput.string(body, "timezone") ?? spec.timezone
            spec.input = try RequestInput.json(body["input"] ?? [String: Any]())
            spec.catchUp = try RequestInput.string(body, "catch_up") ?? spec.catchUp
            spec.catchUpMax = try RequestInput.integer(body, "catch_up_max") ?? spec.catchUpMax
            let actor = try context.who
            let fixed = spec
            let created = try await pool.withConnection { try await ScheduleStore(connection: $0).create(fixed, as: actor) }
            return HTTPReply.json(created.text, status: .created)
        }

        api.get("schedules/:name") { _, context in
            let name = try context.parameters.require("name")
            let actor = try context.who
            return HTTPReply.json(try await pool.withConnection { try await ScheduleStore(connection: $0).show(name, as: actor) }.text)
        }

        api.post("schedules/:name/:operation") { _, context in
            let name = try context.parameters.require("name")
            let operation = try context.parameters.require("operation")
            guard operation == "pause" || operation == "resume" else {
                throw RelayError(.notFound, "not_found", "unknown operation (expected pause or resume)")
            }
            let actor = try context.who
            let schedule = try await pool.withConnection {
                try await ScheduleStore(connection: $0).setEnabled(name, operation == "resume", as: actor)
            }
            return HTTPReply.json(schedule.text)
        }

        api.delete("schedules/:name") { _, context in
            let name = try context.parameters.require("name")
            let actor = try context.who
            try await pool.withConnection { try await ScheduleStore(connection: $0).delete(name, as: actor) }
            return Response(status: .noContent)
        }
    }
}
