import Foundation
import TrellisCore
import TrellisPQ

/// Typed calls to the run side of the execution SQL API: start, read and control runs and
/// read their event log. The scheduler loop's own calls are `SchedulerStore`'s.
public struct RunStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public struct Started: Sendable, Hashable {
        public var runID: UUID
        public var status: String
        /// False when an idempotency key matched an existing run.
        public var created: Bool
    }

    public struct Run: Sendable {
        public var id: UUID
        public var workflow: String
        public var version: Int
        public var status: String
        public var input: PGJSON
        public var output: PGJSON?
        public var error: PGJSON?
        public var totalCost: Decimal
        public var lastSeq: Int64
        public var startedBy: String?
        public var createdAt: Date
        public var startedAt: Date?
        public var finishedAt: Date?
    }

    public struct NodeRun: Sendable {
        public var id: Int64
        public var key: String
        public var kind: String
        public var status: String
        public var attempt: Int
        public var input: PGJSON?
        public var output: PGJSON?
        public var error: PGJSON?
        public var readyAt: Date?
    }

    public struct Event: Sendable {
        public var seq: Int64
        public var type: String
        public var timestamp: Date
        public var data: PGJSON
    }

    public func start(
        _ workflow: String, input: String = "{}", as principal: String, priority: Int? = nil,
        idempotencyKey: String? = nil, version: Int? = nil
    ) async throws -> Started {
        var options: [String: JSONValue] = [:]
        if let priority { options["priority"] = .number(Double(priority)) }
        if let idempotencyKey { options["idempotency_key"] = .string(idempotencyKey) }
        if let version { options["version"] = .number(Double(version)) }
        return try await start(workflow, input: input, options: try PGJSON(encoding: options).text, as: principal)
    }

    /// One run with its options as a JSON object text (priority, idempotency_key, version,
    /// context), checked by start_run: the HTTP API passes its request body through.
    public func start(_ workflow: String, input: String, options: String, as principal: String) async throws -> Started {
        // Prepared: a start is a client's enqueue call and a scheduler's pickup latency,
        // and parsing and planning it each time cost about 0.2 ms of that.
        let row = try await connection.runPrepared(Query.Runs.start, [workflow, input, principal, options]).single()
        return Started(runID: try row.decode("run_id"), status: try row.decode("status"), created: try row.decode("created"))
    }

    /// Starts one run per input (JSON object texts) in one call to start_runs: every input
    /// is checked before anything is written, and a refusal names the input by position.
    public func start(_ workflow: String, inputs: [String], as principal: String, priority: Int? = nil,
                      version: Int? = nil) async throws -> [Started] {
        var options: [String: JSONValue] = [:]
        if let priority { options["priority"] = .number(Double(priority)) }
        if let version { options["version"] = .number(Double(version)) }
        return try await start(workflow, inputArray: "[" + inputs.joined(separator: ",") + "]",
                               options: try PGJSON(encoding: options).text, as: principal)
    }

    /// Runs for every element of `inputArray` (a JSON array text) with shared options (a JSON
    /// object text), in one call to start_runs.
    public func start(_ workflow: String, inputArray: String, options: String, as principal: String) async throws -> [Started] {
        try await connection.run(Query.Runs.startMany, [workflow, inputArray, principal, options]).rows.map {
            Started(runID: try $0.decode("run_id"), status: try $0.decode("status"), created: try $0.decode("created"))
        }
    }

    public func run(_ id: UUID) async throws -> Run {
        guard let row = try await connection.run(Query.Runs.get, [id]).rows.first else {
            throw StoreError(code: .notFound, message: "unknown run \(id.uuidString.lowercased())")
        }
        return Run(
            id: try row.decode("id"), workflow: try row.decode("workflow"), version: try row.decode("version"),
            status: try row.decode("status"), input: try row.decode("input"), output: try row.decodeIfPresent("output"),
            error: try row.decodeIfPresent("error"), totalCost: try row.decode("total_cost"), lastSeq: try row.decode("last_seq"),
            startedBy: try row.decodeIfPresent("started_by"), createdAt: try row.decode("created_at"),
            startedAt: try row.decodeIfPresent("started_at"), finishedAt: try row.decodeIfPresent("finished_at"))
    }

    public func nodes(of run: UUID) async throws -> [NodeRun] {
        try await connection.run(Query.Runs.nodes, [run]).rows.map {
            NodeRun(id: try $0.decode("id"), key: try $0.decode("node_key"), kind: try $0.decode("kind"), status: try $0.decode("status"),
                    attempt: try $0.decode("attempt"), input: try $0.decodeIfPresent("input"), output: try $0.decodeIfPresent("output"),
                    error: try $0.decodeIfPresent("error"), readyAt: try $0.decodeIfPresent("ready_at"))
        }
    }

    /// Events of `run` after `seq`, oldest first; at most `limit` when given (readers page).
    public func events(of run: UUID, after seq: Int64 = 0, limit: Int? = nil) async throws -> [Event] {
        try await connection.run(Query.Runs.events, [run, seq, limit]).rows.map {
            Event(seq: try $0.decode("seq"), type: try $0.decode("type"), timestamp: try $0.decode("ts"), data: try $0.decode("data"))
        }
    }

    public enum Control: String, Sendable, CaseIterable {
        case cancel, pause, resume
    }

    /// Cancels, pauses or resumes a run; returns its new status. A finished run is SQLSTATE TR409.
    @discardableResult
    public func control(_ operation: Control, run: UUID, as principal: String, reason: String? = nil) async throws -> String {
        try await connection.run(Query.Runs.control, [operation.rawValue, run, principal, reason]).single().decode("status")
    }

    /// How `retry` re-runs a finished run.
    public enum RetryMode: String, Sendable, CaseIterable {
        /// Keep the outputs of nodes that succeeded; run the rest again.
        case fromFailed = "from_failed"
        /// Run everything again from the same input.
        case all
    }

    public struct Retried: Sendable {
        public var id: UUID
        public var status: String
        /// Nodes whose output was kept from the run retried.
        public var reused: Int
    }

    /// Starts a finished run again as a new run linked to it (retry_of). A run still open
    /// or, from_failed, one that succeeded is SQLSTATE TR409.
    public func retry(_ run: UUID, mode: RetryMode = .fromFailed, as principal: String) async throws -> Retried {
        let row = try await connection.run(Query.Runs.retry, [run, principal, mode.rawValue]).single()
        return Retried(id: try row.decode("run_id"), status: try row.decode("status"), reused: try row.decode("reused"))
    }

    public struct Listed: Sendable {
        public var id: UUID
        public var workflow: String
        public var version: Int
        public var status: String
        public var startedBy: String?
        public var createdAt: Date
        public var finishedAt: Date?
        public var totalCost: Decimal
        public var nodes: Int
    }

    public func list(workflow: String? = nil, status: String? = nil, limit: Int = 20) async throws -> [Listed] {
        try await connection.run(Query.Runs.list, [workflow, status, limit]).rows.map {
            Listed(id: try $0.decode("id"), workflow: try $0.decode("workflow"), version: try $0.decode("version"),
                   status: try $0.decode("status"), startedBy: try $0.decodeIfPresent("started_by"),
                   createdAt: try $0.decode("created_at"), finishedAt: try $0.decodeIfPresent("finished_at"),
                   totalCost: try $0.decode("total_cost"), nodes: try $0.decode("nodes"))
        }
    }
}
