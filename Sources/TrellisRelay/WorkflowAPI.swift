import Foundation
import Hummingbird
import TrellisCore
import TrellisPQ
import TrellisStore

/// The HTTP API for workflows and templates: list and read them with their graphs,
/// validate and publish definitions (JSON, or YAML with a YAML content type), instantiate
/// templates. Reads need `view` on the workflow; publishing a new version needs `edit`
/// (a new workflow belongs to whoever publishes it), as in the CLI.
struct WorkflowAPI: Sendable {
    let relay: Relay

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        let maxBody = relay.options.maxBody

        api.get("workflows") { _, context in
            let principal = try context.who
            let list = try await pool.withConnection { try await APIStore(connection: $0).workflows(as: principal) }
            return HTTPReply.json(#"{"workflows": \#(list.text)}"#)
        }

        // Every problem with a definition, with the CLI's codes; nothing is written.
        api.post("workflows:validate") { request, context in
            _ = try context.who
            let definition = try await Self.definition(request, limit: maxBody)
            let problems = try await pool.withConnection { try await WorkflowStore(connection: $0).validate(definition: definition) }
            let items = problems.map {
                #"{"code": \#(JSONText.quote($0.code)), "item": \#(JSONText.quote($0.item)), "message": \#(JSONText.quote($0.message))}"#
            }
            return HTTPReply.json(#"{"valid": \#(problems.isEmpty), "problems": [\#(items.joined(separator: ", "))]}"#)
        }

        // Publishes a definition: 201 with the new version, 200 when an identical version exists.
        api.post("workflows") { request, context in
            let principal = try context.who
            let definition = try await Self.definition(request, limit: maxBody)
            let published = try await pool.withConnection {
                try await WorkflowStore(connection: $0).publish(definition: definition, as: principal)
            }
            return Self.reply(published)
        }

        api.get("workflows/:name") { _, context in
            let name = try context.parameters.require("name")
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection { try await APIStore(connection: $0).workflow(name, as: principal) }.text)
        }

        api.get("workflows/:name/versions") { _, context in
            let name = try context.parameters.require("name")
            let principal = try context.who
            let list = try await pool.withConnection { try await APIStore(connection: $0).workflowVersions(name, as: principal) }
            return HTTPReply.json(#"{"versions": \#(list.text)}"#)
        }

        api.get("workflows/:name/versions/:version") { _, context in
            let name = try context.parameters.require("name")
            let version = try RequestInput.integer(context.parameters.require("version"), "version")
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection {
                try await APIStore(connection: $0).workflow(name, version: version, as: principal)
            }.text)
        }

        api.get("templates") { _, context in
            let principal = try context.who
            let list = try await pool.withConnection { try await APIStore(connection: $0).templates(as: principal) }
            return HTTPReply.json(#"{"templates": \#(list.text)}"#)
        }

        api.get("templates/:name") { request, context in
            let name = try context.parameters.require("name")
            let version = try RequestInput.integer(request.uri.queryParameters.get("version"), "version")
            let principal = try context.who
            return HTTPReply.json(try await pool.withConnection {
                try await APIStore(connection: $0).template(name, version: version, as: principal)
            }.text)
        }

        // {"workflow": NAME, "parameters": {…}, "version": N?}: publishes NAME from the template.
        api.post("templates/:name/instantiate") { request, context in
            let name = try context.parameters.require("name")
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["workflow", "parameters", "version"])
            guard let workflow = try RequestInput.string(body, "workflow"), !workflow.isEmpty else {
                throw RelayError(.badRequest, "invalid_input", "workflow (the name to publish as) is required")
            }
            let version = try RequestInput.integer(body, "version")
            let parameters = try RequestInput.json(body["parameters"] ?? [String: Any]())
            let principal = try context.who
            let published = try await pool.withConnection {
                try await TemplateStore(connection: $0).instantiate(name, parameters: parameters, workflow: workflow, as: principal, version: version)
            }
            return Self.reply(published)
        }
    }

    /// The body as definition JSON: YAML (`application/yaml`, `text/yaml`) is converted; JSON
    /// passes through as sent, so its checksum is the one the CLI computes for the same file.
    static func definition(_ request: Request, limit: Int) async throws -> String {
        let text = try await RequestInput.text(request, limit: limit)
        guard !text.allSatisfy(\.isWhitespace) else {
            throw RelayError(.badRequest, "invalid_input", "the request body must hold a workflow definition")
        }
        let yaml = request.headers[.contentType]?.lowercased().contains("yaml") == true
        do {
            return try DefinitionDocument.jsonText(fileName: yaml ? "body.yaml" : "body.json", contents: text)
        } catch let error as DefinitionDocument.ParseError {
            throw RelayError(.badRequest, "invalid_input", error.description)
        }
    }

    static func reply(_ published: WorkflowStore.Published) -> Response {
        HTTPReply.json(
            #"{"workflow": \#(JSONText.quote(published.workflow)), "version": \#(published.version), "checksum": \#(JSONText.quote(published.checksum)), "created": \#(published.created)}"#,
            status: published.created ? .created : .ok)
    }
}
