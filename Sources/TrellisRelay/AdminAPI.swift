import Foundation
import Hummingbird
import TrellisCore
import TrellisPQ
import TrellisStore

/// The HTTP API for administrators: principals, grants and tokens. The SQL functions
/// refuse anyone else (403); a token's secret is returned once, at creation, and only its
/// SHA-256 is stored.
struct AdminAPI: Sendable {
    let relay: Relay

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        let maxBody = relay.options.maxBody

        api.get("principals") { _, context in
            let actor = try context.who
            let list = try await pool.withConnection { try await APIStore(connection: $0).principals(as: actor) }
            return HTTPReply.json(#"{"principals": \#(list.text)}"#)
        }

        // {"name", "kind": user|service|role, "display_name"?, "is_admin"?}
        api.post("principals") { request, context in
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["name", "kind", "display_name", "is_admin"])
            guard let name = try RequestInput.string(body, "name") else {
                throw RelayError(.badRequest, "invalid_input", "name is required")
            }
            let kind = try RequestInput.string(body, "kind") ?? "user"
            let isAdmin = try RequestInput.bool(body, "is_admin") ?? false
            let displayName = try RequestInput.string(body, "display_name")
            let actor = try context.who
            _ = try await pool.withConnection {
                try await PrincipalStore(connection: $0).create(name, kind: kind, displayName: displayName, isAdmin: isAdmin, as: actor)
            }
            return HTTPReply.json(#"{"name": \#(JSONText.quote(name)), "kind": \#(JSONText.quote(kind)), "is_admin": \#(isAdmin)}"#, status: .created)
        }

        api.get("grants") { request, context in
            let workflow = request.uri.queryParameters.get("workflow")
            let actor = try context.who
            let list = try await pool.withConnection { try await APIStore(connection: $0).grants(workflow: workflow, as: actor) }
            return HTTPReply.json(#"{"grants": \#(list.text)}"#)
        }

        // {"workflow", "principal", "privilege"}; changed is false when it was already held.
        api.post("grants") { request, context in
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["workflow", "principal", "privilege"])
            let (workflow, principal, privilege) = (try Self.required(body, "workflow"), try Self.required(body, "principal"),
                                                    try Self.required(body, "privilege"))
            let actor = try context.who
            let changed = try await pool.withConnection {
                try await PrincipalStore(connection: $0).grant(privilege, on: workflow, to: principal, as: actor)
            }
            return Self.grantReply(workflow, principal, privilege, changed: changed)
        }

        api.delete("grants/:workflow/:principal/:privilege") { _, context in
            let workflow = try context.parameters.require("workflow"), principal = try context.parameters.require("principal")
            let privilege = try context.parameters.require("privilege")
            let actor = try context.who
            let changed = try await pool.withConnection {
                try await PrincipalStore(connection: $0).revoke(privilege, on: workflow, from: principal, as: actor)
            }
            return Self.grantReply(workflow, principal, privilege, changed: changed)
        }

        api.get("tokens") { request, context in
            let owner = request.uri.queryParameters.get("principal")
            let actor = try context.who
            let list = try await pool.withConnection { try await APIStore(connection: $0).tokens(owner: owner, as: actor) }
            return HTTPReply.json(#"{"tokens": \#(list.text)}"#)
        }

        // {"principal", "description"?, "expires_at"? (RFC 3339)}: the secret is in this reply only.
        api.post("tokens") { request, context in
            let body = try await RequestInput.object(request, limit: maxBody)
            try RequestInput.requireKnown(body, ["principal", "description", "expires_at"])
            let owner = try Self.required(body, "principal")
            let expiresAt = try RequestInput.time(body, "expires_at")
            let description = try RequestInput.string(body, "description") ?? ""
            let actor = try context.who
            let created = try await pool.withConnection {
                try await TokenStore(connection: $0).create(for: owner, description: description, expiresAt: expiresAt, as: actor)
            }
            let expiry = expiresAt.map { "\"\(EventEnvelope.rfc3339($0))\"" } ?? "null"
            return HTTPReply.json(
                #"{"id": \#(created.id), "principal": \#(JSONText.quote(owner)), "prefix": \#(JSONText.quote(created.prefix)), "token": \#(JSONText.quote(created.token)), "expires_at": \#(expiry)}"#,
                status: .created)
        }

        // By id or prefix; revoked is false when it already was.
        api.delete("tokens/:token") { _, context in
            let token = try context.parameters.require("token")
            let actor = try context.who
            let revoked = try await pool.withConnection { try await TokenStore(connection: $0).revoke(token, as: actor) }
            return HTTPReply.json(#"{"token": \#(JSONText.quote(token)), "revoked": \#(revoked)}"#)
        }
    }

    static func required(_ body: [String: Any], _ key: String) throws -> String {
        guard let value = try RequestInput.string(body, key), !value.isEmpty else {
            throw RelayError(.badRequest, "invalid_input", "\(key) is required")
        }
        return value
    }

    static func grantReply(_ workflow: String, _ principal: String, _ privilege: String, changed: Bool) -> Response {
        HTTPReply.json(
            #"{"workflow": \#(JSONText.quote(workflow)), "principal": \#(JSONText.quote(principal)), "privilege": \#(JSONText.quote(privilege)), "changed": \#(changed)}"#)
    }
}
