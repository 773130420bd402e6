import Foundation
import TrellisCore
import TrellisPQ

/// Typed calls to the scheduler loop's SQL functions — the ones role `trellis_scheduler`
/// may execute: register, claim, complete, fail, report progress, heartbeat, reclaim and
/// stop. Every call is checked in SQL against the login that registered the scheduler.
public struct SchedulerStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
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
        /// Claimable → claimed, by the database's clock.
        public var waitedMilliseconds: Double? = nil
        /// What an earlier attempt left when it asked a person for input, with the
        /// answer (`answer`, `answered_by`) once it came.
        public var resume: PGJSON? = nil
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

    /// One successful result, as complete_nodes reads it. `document` writes a batch by
    /// hand (JSONValue+Text); the Codable conformance is the reference it is tested against.
    public struct Success: Sendable, Codable {
        public var id: Int64
        public var attempt: Int
        public var output: JSONValue
        public var cost: Decimal?
        public var tokensIn: Int?
        public var tokensOut: Int?

        enum CodingKeys: String, CodingKey {
            case id, attempt, output, cost
            case tokensIn = "tokens_in"
            case tokensOut = "tokens_out"
        }

        public init(id: Int64, attempt: Int, output: JSONValue, cost: Decimal? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil) {
            self.id = id
            self.attempt = attempt
            self.output = output
            self.cost = cost
            self.tokensIn = tokensIn
            self.tokensOut = tokensOut
        }

        /// A batch as the JSON array complete_nodes takes, written by hand (JSONEncoder
        /// cost 70 µs for eight results here). A cost that is not a number (a NaN Decimal)
        /// goes through JSONEncoder, which decides what becomes of it as before.
        public static func document(_ batch: [Success]) throws -> PGJSON {
            if batch.contains(where: { $0.cost?.isNaN == true }) { return try PGJSON(encoding: batch) }
            var out = "["
            for (index, result) in batch.enumerated() {
                out += index == 0 ? "{\"attempt\":" : ",{\"attempt\":"
                out += String(result.attempt)
                if let cost = result.cost { out += ",\"cost\":\(cost)" }
                out += ",\"id\":" + String(result.id) + ",\"output\":"
                try result.output.write(into: &out)
                if let used = result.tokensIn { out += ",\"tokens_in\":" + String(used) }
                if let used = result.tokensOut { out += ",\"tokens_out\":" + String(used) }
                out += "}"
            }
            return PGJSON(text: out + "]")
        }
    }

    public struct Failure: Sendable, Codable {
        public struct Details: Sendable, Codable {
            public var code: String
            public var message: String
            /// The server asked to wait this long before trying again (HTTP Retry-After): the
            /// next attempt is not ready before it, whatever the retry policy's backoff says.
            public var retryAfterMs: Int?

            enum CodingKeys: String, CodingKey {
                case code, message
                case retryAfterMs = "retry_after_ms"
            }

            public init(code: String, message: String, retryAfterMs: Int? = nil) {
                self.code = code
                self.message = message
                self.retryAfterMs = retryAfterMs
            }
        }

        /// A handler asking a person: the node waits on an approval of kind `input`.
        public struct InputRequest: Sendable, Codable {
            public var prompt: String
            public var resume: JSONValue

            public init(prompt: String, resume: JSONValue) {
                self.prompt = prompt
                self.resume = resume
            }
        }

        public var id: Int64
        public var attempt: Int
        public var error: Details
        public var retryable: Bool
        public var cost: Decimal?
        public var inputRequest: InputRequest?

        enum CodingKeys: String, CodingKey {
            case id, attempt, error, retryable, cost
            case inputRequest = "input_request"
        }

        public init(id: Int64, attempt: Int, error: Details, retryable: Bool = true, cost: Decimal? = nil,
                    inputRequest: InputRequest? = nil) {
            self.id = id
            self.attempt = attempt
            self.error = error
            self.retryable = retryable
            self.cost = cost
            self.inputRequest = inputRequest
        }
    }

    public func registerScheduler(name: String, handlers: [String], concurrency: Int = 1, hostname: String = "",
                                  pid: Int? = nil, version: String = "") async throws -> Int64 {
        try await connection.run(Query.Runs.registerScheduler, [name, handlers, concurrency, hostname, pid, version])
            .single().decode("id")
    }

    public func claim(scheduler: Int64, handlers: [String], max: Int, leaseSeconds: Int = 30) async throws -> [Claim] {
        try Self.claims(try await connection.runPrepared(Query.Runs.claim, Self.claimParameters(scheduler, handlers, max, leaseSeconds)))
    }

    public func complete(scheduler: Int64, _ results: [Success]) async throws -> [Report] {
        try Self.completions(try await connection.runPrepared(Query.Runs.complete, [scheduler, try Success.document(results)]))
    }

    public func fail(scheduler: Int64, _ failures: [Failure]) async throws -> [Report] {
        try Self.failures(try await connection.runPrepared(Query.Runs.fail, [scheduler, try PGJSON(encoding: failures)]))
    }

    /// What one `reportAndClaim` round trip did.
    public struct Exchange: Sendable {
        public var completed: [Report]
        public var failed: [Report]
        public var claims: [Claim]
    }

    /// Reports successes and failures and claims up to `max` nodes in one round trip and
    /// one transaction (pipeline mode): the busy loop's pass costs one commit, not three.
    /// When the database refuses any part, nothing of it is kept and the error is thrown;
    /// the caller reports the results the slow way (`complete`, `fail`) and claims apart.
    public func reportAndClaim(scheduler: Int64, successes: [Success], failures: [Failure], handlers: [String], max: Int,
                               leaseSeconds: Int = 30) async throws -> Exchange {
        var statements: [PGConnection.Statement] = []
        let catalogue = SQLCatalogue.embedded
        if !successes.isEmpty { statements.append(.init(catalogue.query(Query.Runs.complete), [scheduler, try Success.document(successes)], prepared: true)) }
        if !failures.isEmpty { statements.append(.init(catalogue.query(Query.Runs.fail), [scheduler, try PGJSON(encoding: failures)], prepared: true)) }
        statements.append(.init(catalogue.query(Query.Runs.claim), Self.claimParameters(scheduler, handlers, max, leaseSeconds), prepared: true))
        var results = try await connection.pipeline(statements)[...]
        return Exchange(completed: successes.isEmpty ? [] : try Self.completions(results.removeFirst()),
                        failed: failures.isEmpty ? [] : try Self.failures(results.removeFirst()),
                        claims: try Self.claims(results.removeFirst()))
    }

    private static func claimParameters(_ scheduler: Int64, _ handlers: [String], _ max: Int, _ leaseSeconds: Int) -> [(any PGEncodable)?] {
        [scheduler, handlers, max, "\(leaseSeconds) seconds"]
    }

    private static func claims(_ result: PGResult) throws -> [Claim] {
        try result.rows.map {
            Claim(nodeRunID: try $0.decode("node_run_id"), runID: try $0.decode("run_id"), nodeKey: try $0.decode("node_key"),
                  handler: try $0.decode("handler"), config: try $0.decode("config"), input: try $0.decodeIfPresent("input") ?? PGJSON(text: "null"),
                  attempt: try $0.decode("attempt"), timeoutMilliseconds: try $0.decodeIfPresent("timeout_ms"),
                  itemIndex: try $0.decodeIfPresent("item_index"), waitedMilliseconds: try $0.decodeIfPresent("waited_ms"),
                  resume: try $0.decodeIfPresent("resume"))
        }
    }

    private static func completions(_ result: PGResult) throws -> [Report] {
        try result.rows.map {
            Report(nodeRunID: try $0.decode("node_run_id"), accepted: try $0.decode("accepted"), outcome: nil,
                   reason: try $0.decodeIfPresent("reason"))
        }
    }

    private static func failures(_ result: PGResult) throws -> [Report] {
        try result.rows.map {
            Report(nodeRunID: try $0.decode("node_run_id"), accepted: try $0.decode("accepted"),
                   outcome: try $0.decodeIfPresent("outcome"), reason: try $0.decodeIfPresent("reason"))
        }
    }

    /// Progress and log lines from running handlers (events node.progress / node.log),
    /// fenced like results.
    public func reportProgress(scheduler: Int64, _ updates: [Update]) async throws -> [Report] {
        try await connection.runPrepared(Query.Runs.reportProgress, [scheduler, try PGJSON(encoding: updates)]).rows.map {
            Report(nodeRunID: try $0.decode("node_run_id"), accepted: try $0.decode("accepted"), outcome: nil,
                   reason: try $0.decodeIfPresent("reason"))
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
        let rows = try await connection.runPrepared(Query.Runs.heartbeat, [scheduler, held.map(\.nodeRunID), held.map(\.attempt),
                                                                   "\(leaseSeconds) seconds"]).rows
        var lost: Set<Int64> = []
        for row in rows where !(try row.decode("held", as: Bool.self)) {
            lost.insert(try row.decode("node_run_id"))
        }
        return lost
    }

    /// Returns expired leases to the retry policy; safe from every instance at once.
    @discardableResult
    /// Removes at most `max` finished runs past the retention policies (one instance at
    /// a time; 0 when another holds the lock or nothing is due). See trellis.apply_retention.
    public func applyRetention(scheduler: Int64, max: Int = 500) async throws -> Int {
        try await connection.run(Query.Retention.apply, [scheduler, max]).single().decode("removed")
    }

    public func reclaimExpired(max: Int = 100) async throws -> Int {
        try await connection.run(Query.Runs.reclaimExpired, [max]).single().decode("reclaimed")
    }

    /// Marks the scheduler stopped and releases the nodes it still holds.
    @discardableResult
    public func stopScheduler(_ scheduler: Int64) async throws -> Int {
        try await connection.run(Query.Runs.stopScheduler, [scheduler]).single().decode("released")
    }
}
