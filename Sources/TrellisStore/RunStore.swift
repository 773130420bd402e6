import Foundation
import TrellisCore
import TrellisPQ

/// Typed calls to the execution SQL API: start runs, claim nodes, report results, read
/// runs and their event log. Every transition is a SQL function; this binds and decodes.
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

    /// A node claimed for execution. `attempt` is the fencing token results must present.
    public struct Claim: Sendable, Hashable {
        public var nodeRunID: Int64
        public var runID: UUID
        public var nodeKey: String
        public var handler: String
        public var config: PGJSON
        public var input: PGJSON
        public var attempt: Int
        public var timeoutMilliseconds: Int?
        public var itemIndex: Int?
    }

    public struct Report: Sendable, Hashable {
        public var nodeRunID: Int64
        public var accepted: Bool
        /// For failures: retry_scheduled, continued, failed_run or refused.
        public var outcome: String?
        public var reason: String?
    }

    /// A handler's progress (`kind` "progress": percent, message) or log line (`kind`
    /// "log": logKind agent_message|tool_call|thinking|log, body).
    public struct Update: Sendable, Codable, Equatable {
        public var id: Int64
        public var attempt: Int
        public var kind: String
        public var percent: Double?
        public var message: String?
        public var logKind: String?
        public var body: String?

        enum CodingKeys: String, CodingKey {
            case id, attempt, kind, percent, message, body
            case logKind = "log_kind"
        }

        public init(id: Int64, attempt: Int, kind: String, percent: Double? = nil, message: String? = nil,
                    logKind: String? = nil, body: String? = nil) {
            self.id = id
            self.attempt = attempt
            self.kind = kind
            self.percent = percent
            self.message = message
            self.logKind = logKind
            self.body = body
        }

        public static func progress(id: Int64, attempt: Int, percent: Double?, message: String) -> Update {
            Update(id: id, attempt: attempt, kind: "progress", percent: percent, message: message)
        }

        public static func log(id: Int64, attempt: Int, kind: String, body: String) -> Update {
            Update(id: id, attempt: attempt, kind: "log", logKind: kind, body: body)
        }
    }

    public struct Success: Sendable, Codable {
        public var id: Int64
        public var attempt: Int
        public var output: JSONValue
        public var cost: Decimal?

        public init(id: Int64, attempt: Int, output: JSONValue, cost: Decimal? = nil) {
            self.id = id
            self.attempt = attempt
            self.output = output
            self.cost = cost
        }
    }

    public struct Failure: Sendable, Codable {
        public struct Details: Sendable, Codable {
            public var code: String
            public var message: String
            public init(code: String, message: String) {
                self.code = code
                self.message = message
            }
        }

        public var id: Int64
        public var attempt: Int
        public var error: Details
        public var retryable: Bool
        public var cost: Decimal?

        public init(id: Int64, attempt: Int, error: Details, retryable: Bool = true, cost: Decimal? = nil) {
            self.id = id
            self.attempt = attempt
            self.error = error
            self.retryable = retryable
            self.cost = cost
        }
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
        let row = try await connection.run(Query.Runs.start, [workflow, input, principal, try PGJSON(encoding: options)]).single()
        return Started(runID: try row.decode("run_id"), status: try row.decode("status"), created: try row.decode("created"))
    }

    public func registerScheduler(name: String, handlers: [String], concurrency: Int = 1, hostname: String = "",
                                  pid: Int? = nil, version: String = "") async throws -> Int64 {
        try await connection.run(Query.Runs.registerScheduler, [name, handlers, concurrency, hostname, pid, version])
            .single().decode("id")
    }

    public func claim(scheduler: Int64, handlers: [String], max: Int, leaseSeconds: Int = 30) async throws -> [Claim] {
        try await connection.run(Query.Runs.claim, [scheduler, handlers, max, "\(leaseSeconds) seconds"]).rows.map {
            Claim(nodeRunID: try $0.decode("node_run_id"), runID: try $0.decode("run_id"), nodeKey: try $0.decode("node_key"),
                  handler: try $0.decode("handler"), config: try $0.decode("config"), input: try $0.decodeIfPresent("input") ?? PGJSON(text: "null"),
                  attempt: try $0.decode("attempt"), timeoutMilliseconds: try $0.decodeIfPresent("timeout_ms"),
                  itemIndex: try $0.decodeIfPresent("item_index"))
        }
    }

    public func complete(scheduler: Int64, _ results: [Success]) async throws -> [Report] {
        try await connection.run(Query.Runs.complete, [scheduler, try PGJSON(encoding: results)]).rows.map {
            Report(nodeRunID: try $0.decode("node_run_id"), accepted: try $0.decode("accepted"), outcome: nil,
                   reason: try $0.decodeIfPresent("reason"))
        }
    }

    /// Progress and log lines from running handlers (events node.progress / node.log),
    /// fenced like results.
    public func reportProgress(scheduler: Int64, _ updates: [Update]) async throws -> [Report] {
        try await connection.run(Query.Runs.reportProgress, [scheduler, try PGJSON(encoding: updates)]).rows.map {
            Report(nodeRunID: try $0.decode("node_run_id"), accepted: try $0.decode("accepted"), outcome: nil,
                   reason: try $0.decodeIfPresent("reason"))
        }
    }

    public func fail(scheduler: Int64, _ failures: [Failure]) async throws -> [Report] {
        try await connection.run(Query.Runs.fail, [scheduler, try PGJSON(encoding: failures)]).rows.map {
            Report(nodeRunID: try $0.decode("node_run_id"), accepted: try $0.decode("accepted"),
                   outcome: try $0.decodeIfPresent("outcome"), reason: try $0.decodeIfPresent("reason"))
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

    public func events(of run: UUID, after seq: Int64 = 0) async throws -> [Event] {
        try await connection.run(Query.Runs.events, [run, seq]).rows.map {
            Event(seq: try $0.decode("seq"), type: try $0.decode("type"), timestamp: try $0.decode("ts"), data: try $0.decode("data"))
        }
    }

    /// A node run a scheduler holds, at the attempt (fencing token) it holds it with.
    public struct Held: Sendable, Hashable {
        public var nodeRunID: Int64
        public var attempt: Int
        public init(_ nodeRunID: Int64, attempt: Int) {
            self.nodeRunID = nodeRunID
            self.attempt = attempt
        }
    }

    /// Extends the leases this scheduler still holds at the given attempts; returns the
    /// ids it no longer holds (reclaimed, re-claimed, finished or cancelled).
    public func heartbeat(scheduler: Int64, holding held: [Held], leaseSeconds: Int = 30) async throws -> Set<Int64> {
        let rows = try await connection.run(Query.Runs.heartbeat, [scheduler, held.map(\.nodeRunID), held.map(\.attempt),
                                                                   "\(leaseSeconds) seconds"]).rows
        var lost: Set<Int64> = []
        for row in rows where !(try row.decode("held", as: Bool.self)) {
            lost.insert(try row.decode("node_run_id"))
        }
        return lost
    }

    /// Returns expired leases to the retry policy; safe from every instance at once.
    @discardableResult
    public func reclaimExpired(max: Int = 100) async throws -> Int {
        try await connection.run(Query.Runs.reclaimExpired, [max]).single().decode("reclaimed")
    }

    /// Marks the scheduler stopped and releases the nodes it still holds.
    @discardableResult
    public func stopScheduler(_ scheduler: Int64) async throws -> Int {
        try await connection.run(Query.Runs.stopScheduler, [scheduler]).single().decode("released")
    }

    public enum Control: String, Sendable, CaseIterable {
        case cancel, pause, resume
    }

    /// Cancels, pauses or resumes a run; returns its new status. A finished run is SQLSTATE TR409.
    @discardableResult
    public func control(_ operation: Control, run: UUID, as principal: String, reason: String? = nil) async throws -> String {
        try await connection.run(Query.Runs.control, [operation.rawValue, run, principal, reason]).single().decode("status")
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
