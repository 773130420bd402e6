import Foundation
import TrellisPQ

/// Typed calls to the approval SQL API (`trellis.decide_approval`, `expire_approvals`).
public struct ApprovalStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public struct Approval: Sendable {
        public var id: UUID
        public var runID: UUID
        public var workflow: String
        public var nodeKey: String
        public var status: String
        /// `gate` (a human_gate node) or `input` (a handler asked a question; the
        /// approving comment is the answer).
        public var kind: String
        public var prompt: String
        public var required: Int
        public var approvals: Int
        public var createdAt: Date
        public var expiresAt: Date?
        public var decidedAt: Date?
        public var decidedBy: String?
        public var comment: String?
        public var startedBy: String?
    }

    public enum Decision: String, Sendable {
        case approve, reject
    }

    public func list(status: String? = "pending", run: UUID? = nil, limit: Int = 100) async throws -> [Approval] {
        try await connection.run(Query.Approvals.list, [status, run, limit]).rows.map {
            Approval(
                id: try $0.decode("id"), runID: try $0.decode("run_id"), workflow: try $0.decode("workflow"),
                nodeKey: try $0.decode("node_key"), status: try $0.decode("status"), kind: try $0.decode("kind"), prompt: try $0.decode("prompt"),
                required: try $0.decode("required_approvals"), approvals: try $0.decode("approvals"),
                createdAt: try $0.decode("created_at"), expiresAt: try $0.decodeIfPresent("expires_at"),
                decidedAt: try $0.decodeIfPresent("decided_at"), decidedBy: try $0.decodeIfPresent("decided_by"),
                comment: try $0.decodeIfPresent("comment"), startedBy: try $0.decodeIfPresent("started_by"))
        }
    }

    /// `gate` or `input`; nil for an unknown approval.
    public func kind(of approval: UUID) async throws -> String? {
        try await connection.run(Query.Approvals.kind, [approval]).rows.first?.decode("kind")
    }

    /// Records a decision; returns the approval's status afterwards (pending until enough approve).
    @discardableResult
    public func decide(_ approval: UUID, _ decision: Decision, as principal: String, comment: String? = nil) async throws -> String {
        try await connection.run(Query.Approvals.decide, [approval, decision.rawValue, principal, comment]).single().decode("status")
    }

    /// Applies the expiry outcome of approvals past their deadline; safe from every instance.
    @discardableResult
    public func expireDue(max: Int = 100) async throws -> Int {
        try await connection.run(Query.Approvals.expire, [max]).single().decode("expired")
    }
}
