import Foundation
import TrellisPQ

/// Typed calls to the workflow-definition SQL API (`trellis.validate_workflow`,
/// `publish_workflow`, …). Validation and every rule live in SQL; this only binds
/// parameters and decodes rows.
public struct WorkflowStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// One problem with a definition; `code` is the SQLSTATE publishing would raise.
    public struct Problem: Sendable, Hashable, Codable {
        public var code: String
        public var item: String
        public var message: String
    }

    public struct Published: Sendable, Hashable {
        public var workflow: String
        public var version: Int
        public var checksum: String
        /// False when an identical definition was already published (that version is returned).
        public var created: Bool
    }

    public struct Summary: Sendable, Hashable {
        public var name: String
        public var description: String
        public var owner: String?
        public var latestVersion: Int?
        public var publishedAt: Date?
        public var runs: Int
    }

    public struct Node: Sendable, Hashable {
        public var key: String
        public var kind: String
        public var handler: String?
        public var level: Int
        public var upstream: Int
        public var maxAttempts: Int
        public var timeoutMilliseconds: Int?
        public var onError: String
        public var joinMode: String?
        public var joinN: Int?
    }

    public struct Edge: Sendable, Hashable {
        public var from: String
        public var to: String
        public var label: String?
        public var condition: String?
    }

    public struct Version: Sendable {
        public var workflow: String
        public var description: String
        public var version: Int
        public var latestVersion: Int
        public var checksum: String
        public var definition: PGJSON
        /// The definition as PostgreSQL pretty-prints it: exact numbers, so publishing it
        /// again gives the same checksum.
        public var prettyDefinition: String
        public var createdAt: Date
        public var author: String?
        public var template: String?
        public var templateVersion: Int?
        public var nodes: [Node]
        public var edges: [Edge]
    }

    /// Every problem with `definition` (JSON text); empty when it would publish.
    public func validate(definition: String) async throws -> [Problem] {
        try await connection.run(Query.Workflows.validate, [definition]).rows.map {
            Problem(code: try $0.decode("code"), item: try $0.decode("item"), message: try $0.decode("message"))
        }
    }

    public func publish(definition: String, as principal: String) async throws -> Published {
        let row = try await connection.run(Query.Workflows.publish, [definition, principal]).single()
        return Published(
            workflow: try row.decode("workflow"), version: try row.decode("version"),
            checksum: try row.decode("checksum"), created: try row.decode("created"))
    }

    public func list() async throws -> [Summary] {
        try await connection.run(Query.Workflows.list).rows.map {
            Summary(
                name: try $0.decode("name"), description: try $0.decode("description"), owner: try $0.decodeIfPresent("owner"),
                latestVersion: try $0.decodeIfPresent("latest_version"), publishedAt: try $0.decodeIfPresent("published_at"),
                runs: try $0.decode("runs"))
        }
    }

    /// A version with its nodes (ordered by level) and edges; the latest when `version` is nil.
    public func version(_ workflow: String, version: Int? = nil) async throws -> Version {
        let rows = try await connection.run(Query.Workflows.version, [workflow, version]).rows
        guard let row = rows.first else {
            throw StoreError(code: .notFound, message: version.map { "workflow \"\(workflow)\" has no version \($0)" }
                ?? "unknown workflow \"\(workflow)\"")
        }
        let versionID: Int64 = try row.decode("version_id")
        let nodes = try await connection.run(Query.Workflows.versionNodes, [versionID]).rows.map {
            Node(
                key: try $0.decode("key"), kind: try $0.decode("kind"), handler: try $0.decodeIfPresent("handler"),
                level: try $0.decode("execution_level"), upstream: try $0.decode("upstream_count"),
                maxAttempts: try $0.decode("retry_max_attempts"), timeoutMilliseconds: try $0.decodeIfPresent("timeout_ms"),
                onError: try $0.decode("on_error"), joinMode: try $0.decodeIfPresent("join_mode"), joinN: try $0.decodeIfPresent("join_n"))
        }
        let edges = try await connection.run(Query.Workflows.versionEdges, [versionID]).rows.map {
            Edge(from: try $0.decode("from_key"), to: try $0.decode("to_key"),
                 label: try $0.decodeIfPresent("label"), condition: try $0.decodeIfPresent("condition"))
        }
        return Version(
            workflow: try row.decode("name"), description: try row.decode("description"), version: try row.decode("version"),
            latestVersion: try row.decode("latest_version"), checksum: try row.decode("checksum"),
            definition: try row.decode("definition"), prettyDefinition: try row.decode("pretty_definition"),
            createdAt: try row.decode("created_at"),
            author: try row.decodeIfPresent("author"), template: try row.decodeIfPresent("template"),
            templateVersion: try row.decodeIfPresent("template_version"), nodes: nodes, edges: edges)
    }
}

extension WorkflowStore {
    /// Per-workflow concurrency limits (nil: unlimited) and what holds them now.
    public struct Limits: Sendable, Hashable {
        public var maxConcurrentRuns: Int?
        public var maxConcurrentNodes: Int?
        public var activeRuns: Int
        public var runningNodes: Int
    }

    /// Sets both limits at once (nil clears one); `actor` needs admin on the workflow.
    public func setLimits(_ workflow: String, maxRuns: Int?, maxNodes: Int?, as actor: String) async throws -> Limits {
        _ = try await connection.run(Query.Workflows.setLimits, [workflow, maxRuns, maxNodes, actor]).single()
        return try await limits(workflow)
    }

    public func limits(_ workflow: String) async throws -> Limits {
        guard let row = try await connection.run(Query.Workflows.limits, [workflow]).rows.first else {
            throw StoreError(code: .notFound, message: "unknown workflow \"\(workflow)\"")
        }
        return Limits(
            maxConcurrentRuns: try row.decodeIfPresent("max_concurrent_runs"), maxConcurrentNodes: try row.decodeIfPresent("max_concurrent_nodes"),
            activeRuns: try row.decode("active_runs"), runningNodes: try row.decode("running_nodes"))
    }
}

/// A store-level failure that is not a SQL error (e.g. nothing found by a read).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound = "not_found"
        case invalidInput = "invalid_input"
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
