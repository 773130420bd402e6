import Foundation
import TrellisPQ

/// The JSON documents the HTTP API serves, each built by one SQL function that checks the
/// principal's privilege itself (so the relay holds no access rules of its own). The
/// documents pass through unchanged: their shapes are the API's schemas
/// (`docs/openapi.yaml`).
public struct APIStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// Filters of a run listing; nil means any.
    public struct RunFilter: Sendable, Hashable {
        public var workflow: String?
        public var status: String?
        public var startedBy: String?
        /// RFC 3339 bounds of `created_at`: [since, until).
        public var since: String?
        public var until: String?
        public var limit = 50
        /// The `next_cursor` of the previous page.
        public var cursor: String?

        public init(workflow: String? = nil, status: String? = nil, startedBy: String? = nil, since: String? = nil,
                    until: String? = nil, limit: Int = 50, cursor: String? = nil) {
            self.workflow = workflow
            self.status = status
            self.startedBy = startedBy
            self.since = since
            self.until = until
            self.limit = limit
            self.cursor = cursor
        }
    }

    public func workflows(as principal: String) async throws -> PGJSON {
        try await document(Query.API.workflows, [principal])
    }

    /// A version with its definition and graph; the latest when `version` is nil.
    public func workflow(_ name: String, version: Int? = nil, as principal: String) async throws -> PGJSON {
        try await document(Query.API.workflow, [name, version, principal])
    }

    public func workflowVersions(_ name: String, as principal: String) async throws -> PGJSON {
        try await document(Query.API.workflowVersions, [name, principal])
    }

    public func templates(as principal: String) async throws -> PGJSON {
        try await document(Query.API.templates, [principal])
    }

    public func template(_ name: String, version: Int? = nil, as principal: String) async throws -> PGJSON {
        try await document(Query.API.template, [name, version, principal])
    }

    /// `{"runs": […], "next_cursor": …}`, newest first.
    public func runs(_ filter: RunFilter, as principal: String) async throws -> PGJSON {
        try await document(Query.API.runs, [principal, filter.workflow, filter.status, filter.startedBy, filter.since,
                                            filter.until, filter.limit, filter.cursor])
    }

    /// Runs of one workflow by offset (the older listing, kept for its clients).
    public func workflowRuns(_ workflow: String, status: String?, limit: Int, offset: Int, as principal: String) async throws -> PGJSON {
        try await connection.run(Query.Relay.listRuns, [workflow, principal, status, limit, offset]).single().decode("runs")
    }

    /// The run snapshot (PROTOCOL.md): status, summary, progress, graph, nodes, last_seq.
    public func snapshot(of run: UUID, as principal: String) async throws -> PGJSON {
        try await connection.run(Query.Relay.snapshot, [run, principal]).single().decode("snapshot")
    }

    /// One top-level node of a run in detail, with its last `logs` log lines.
    public func node(_ key: String, of run: UUID, logs: Int = 50, as principal: String) async throws -> PGJSON {
        try await document(Query.API.node, [run, key, principal, logs])
    }

    /// Approvals of the workflows the principal may view; `status` nil means every status.
    public func approvals(status: String?, limit: Int, as principal: String) async throws -> PGJSON {
        try await connection.run(Query.Relay.listApprovals, [principal, status, limit]).single().decode("approvals")
    }

    /// `workflow_stats` over `since` (a duration: 24h, 7d) up to `until` (RFC 3339, or now).
    public func stats(since: String?, until: String?, as principal: String) async throws -> PGJSON {
        try await document(Query.API.stats, [principal, since, until])
    }

    public func principals(as actor: String) async throws -> PGJSON {
        try await document(Query.API.principals, [actor])
    }

    public func grants(workflow: String?, as actor: String) async throws -> PGJSON {
        try await document(Query.API.grants, [actor, workflow])
    }

    public func tokens(owner: String?, as actor: String) async throws -> PGJSON {
        try await document(Query.API.tokens, [actor, owner])
    }

    /// The workflow's A2A agent card, for a principal who may run it; `endpoint` is the
    /// JSON-RPC URL the card points clients to.
    public func agentCard(_ workflow: String, endpoint: String, as principal: String) async throws -> PGJSON {
        try await document(Query.A2A.card, [workflow, principal, endpoint])
    }

    /// A run as an A2A Task (trellis.a2a_task).
    public func agentTask(_ run: UUID, as principal: String) async throws -> PGJSON {
        try await document(Query.A2A.task, [run, principal])
    }

    /// A follow-up message on a run's task: decides its oldest pending approval with the
    /// answer; returns the approval's status.
    public func agentReply(_ run: UUID, answer: String, reject: Bool, as principal: String) async throws -> String {
        try await connection.run(Query.A2A.reply, [run, principal, answer, reject ? "reject" : "approve"]).single().decode("status")
    }

    /// The run's status when `principal` holds `privilege` on its workflow (TR404 / 42501 otherwise).
    public func requireAccess(to run: UUID, _ privilege: String = "view", as principal: String) async throws -> String {
        try await connection.run(Query.Relay.requireAccess, [run, principal, privilege]).single().decode("status")
    }

    /// `view` on the run (TR404, 42501 as `requireAccess`), with its status and the seq its
    /// event log ends at now: where a new stream starts.
    public func streamAccess(to run: UUID, as principal: String) async throws -> (status: String, lastSeq: Int64) {
        let row = try await connection.run(Query.Relay.streamAccess, [run, principal]).single()
        return (try row.decode("status"), try row.decode("last_seq"))
    }

    /// One row of the run-lifecycle feed. Rows the principal may not see carry only their
    /// cursor (`visible` false), so a reader moves past them.
    public struct FeedRow: Sendable, Hashable {
        public var cursor: String
        public var visible: Bool
        public var runID: UUID
        public var seq: Int64
        public var type: String
        public var timestamp: Date
        public var data: String?
        public var workflow: String?
    }

    /// Run lifecycle events across runs after `cursor`, in feed order (trellis.run_feed).
    public func feed(after cursor: String, workflow: String?, limit: Int = 500, as principal: String) async throws -> [FeedRow] {
        try await connection.run(Query.Relay.runFeed, [principal, workflow, cursor, limit]).rows.map {
            FeedRow(cursor: try $0.decode("cursor"), visible: try $0.decode("visible"), runID: try $0.decode("run_id"),
                    seq: try $0.decode("seq"), type: try $0.decode("type"), timestamp: try $0.decode("ts"),
                    data: try $0.decodeIfPresent("data"), workflow: try $0.decodeIfPresent("workflow_name"))
        }
    }

    /// The feed position "from now on" (trellis.run_feed_head).
    public func feedHead() async throws -> String {
        try await connection.run(Query.Relay.runFeedHead).single().decode("cursor")
    }

    /// True when the database answers a trivial query (the relay's /healthz).
    public func ping() async throws -> Bool {
        try await connection.run(Query.Relay.ping).single().decode("ok", as: Int.self) == 1
    }

    private func document(_ query: String, _ parameters: [(any PGEncodable)?]) async throws -> PGJSON {
        try await connection.run(query, parameters).single().decode("document")
    }
}
