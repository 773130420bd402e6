import Foundation
import TrellisPQ

/// Typed calls to the template SQL API (`trellis.import_template`, `instantiate_template`).
public struct TemplateStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public struct Imported: Sendable, Hashable {
        public var name: String
        public var version: Int
        public var checksum: String
        public var created: Bool
    }

    public struct Summary: Sendable, Hashable {
        public var name: String
        public var latestVersion: Int
        public var description: String
        public var createdAt: Date
        public var parameterCount: Int
        public var instantiations: Int
    }

    public struct Template: Sendable {
        public var name: String
        public var version: Int
        public var description: String
        public var parameters: PGJSON
        public var definition: PGJSON
        public var checksum: String
        public var createdAt: Date
        public var author: String?
        /// The whole template (name, description, parameters, definition) as importable JSON.
        public var prettyDocument: String
    }

    public func importTemplate(_ template: String, as principal: String) async throws -> Imported {
        let row = try await connection.run(Query.Templates.importTemplate, [template, principal]).single()
        return Imported(name: try row.decode("name"), version: try row.decode("version"),
                        checksum: try row.decode("checksum"), created: try row.decode("created"))
    }

    /// Publishes `workflow` from the template with `parameters` (a JSON object).
    public func instantiate(
        _ template: String, parameters: String, workflow: String, as principal: String, version: Int? = nil
    ) async throws -> WorkflowStore.Published {
        let row = try await connection.run(Query.Templates.instantiate, [template, parameters, workflow, principal, version]).single()
        return WorkflowStore.Published(
            workflow: try row.decode("workflow"), version: try row.decode("version"),
            checksum: try row.decode("checksum"), created: try row.decode("created"))
    }

    public func list() async throws -> [Summary] {
        try await connection.run(Query.Templates.list).rows.map {
            Summary(name: try $0.decode("name"), latestVersion: try $0.decode("latest_version"),
                    description: try $0.decode("description"), createdAt: try $0.decode("created_at"),
                    parameterCount: try $0.decode("parameter_count"), instantiations: try $0.decode("instantiations"))
        }
    }

    public func show(_ name: String, version: Int? = nil) async throws -> Template {
        guard let row = try await connection.run(Query.Templates.show, [name, version]).rows.first else {
            throw StoreError(code: .notFound, message: version.map { "template \"\(name)\" has no version \($0)" }
                ?? "unknown template \"\(name)\"")
        }
        return Template(
            name: try row.decode("name"), version: try row.decode("version"), description: try row.decode("description"),
            parameters: try row.decode("parameters"), definition: try row.decode("definition"),
            checksum: try row.decode("checksum"), createdAt: try row.decode("created_at"), author: try row.decodeIfPresent("author"),
            prettyDocument: try row.decode("pretty_document"))
    }
}
