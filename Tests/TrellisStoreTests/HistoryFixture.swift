import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// A generated run history written straight into the tables (no engine), with every
/// figure the history views should report kept on the Swift side, so the views are
/// checked against an independent computation. Deterministic for a given seed.
///
/// Times are whole milliseconds after `base`, costs whole micro-units, so expected
/// durations and sums are exact.
struct HistoryFixture {
    struct Attempt: Encodable {
        var node_run_id: Int64 = 0
        var run_id: UUID
        var attempt: Int
        var scheduler_id: Int64
        var scheduler_name: String
        var outcome: String
        var error: JSONValue?
        var cost: Decimal
        var started_at: String
        var finished_at: String?
        // Expected figures.
        var startMS: Int64
        var finishMS: Int64?
        var nodeKey: String

        enum CodingKeys: String, CodingKey {
            case node_run_id, run_id, attempt, scheduler_id, scheduler_name, outcome, error, cost, started_at, finished_at
        }
    }

    struct Node: Encodable {
        var run_id: UUID
        var workflow_id: Int64
        var node_id: Int64
        var node_key: String
        var kind: String
        var handler: String?
        var status: String
        var attempt: Int
        var max_attempts = 3
        var ready_at: String?
        var scheduler_id: Int64?
        var claimed_by: String?
        var lease_expires_at: String?
        var error: JSONValue?
        var cost: Decimal
        var started_at: String?
        var finished_at: String?
        // Expected figures.
        var waitMS: Int64?
        var durationMS: Int64?
        var attempts: [Attempt] = []

        enum CodingKeys: String, CodingKey {
            case run_id, workflow_id, node_id, node_key, kind, handler, status, attempt, max_attempts, ready_at,
                 scheduler_id, claimed_by, lease_expires_at, error, cost, started_at, finished_at
        }
    }

    struct Run: Encodable {
        var id: UUID
        var workflow_id: Int64
        var version_id: Int64
        var status: String
        var started_by: Int64
        var total_cost: Decimal
        var failed_node: String?
        var error: JSONValue?
        var created_at: String
        var started_at: String?
        var finished_at: String?
        var nodes_remaining: Int
        // Expected figures.
        var workflow: String
        var version: Int
        var starter: String
        var createdMS: Int64
        var durationMS: Int64?
        var queueMS: Int64
        var nodes: [Node] = []

        enum CodingKeys: String, CodingKey {
            case id, workflow_id, version_id, status, started_by, total_cost, failed_node, error, created_at, started_at,
                 finished_at, nodes_remaining
        }
    }

    struct Approval: Encodable {
        var id: UUID
        var run_id: UUID
        var node_run_id: Int64 = 0
        var status: String
        var prompt: String
        var decided_by: Int64?
        var decided_at: String?
        var comment: String?
        var created_at: String
        // Expected figures.
        var nodeKey: String
        var waitedMS: Int64?
        var votes: [Vote]
        var decider: String?

        enum CodingKeys: String, CodingKey {
            case id, run_id, node_run_id, status, prompt, decided_by, decided_at, comment, created_at
        }
    }

    struct Vote: Encodable {
        var approval_id: UUID
        var principal_id: Int64
        var decision: String
        var comment: String?
        var decided_at: String
        var principal: String

        enum CodingKeys: String, CodingKey { case approval_id, principal_id, decision, comment, decided_at }
    }

    /// The shape of one generated workflow version.
    struct Shape {
        var workflow: String
        var version: Int
        var workflowID: Int64 = 0
        var versionID: Int64 = 0
        var nodes: [(key: String, kind: String, handler: String?, id: Int64)] = []
        /// Weights for which node fails a failed run (same order as nodes).
        var failWeights: [Int]
    }

    static let base = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
    static let day: Int64 = 86_400_000

    var runs: [Run] = []
    var approvals: [Approval] = []
    var shapes: [Shape] = []
    var schedulers: [(id: Int64, name: String)] = []
    var principals: [String: Int64] = [:]

    /// RFC 3339 with milliseconds, `ms` after `base` (within 2026; built by hand because
    /// a date formatter per call dominated the fixture's time).
    static func timestamp(_ ms: Int64) -> String {
        precondition(ms >= 0 && ms < 365 * day)
        var dayOfYear = Int(ms / day)
        var month = 0
        for length in [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
            if dayOfYear < length { break }
            dayOfYear -= length
            month += 1
        }
        let rest = ms % day
        func pad(_ value: Int64, _ width: Int = 2) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "2026-\(pad(Int64(month + 1)))-\(pad(Int64(dayOfYear + 1)))T\(pad(rest / 3_600_000)):\(pad(rest / 60_000 % 60)):"
            + "\(pad(rest / 1000 % 60)).\(pad(rest % 1000, 3))Z"
    }

    /// A small deterministic generator (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Int(z % UInt64(bound))
        }
    }

    /// Publishes the workflows, registers two schedulers, generates `count` runs and
    /// writes everything in a handful of statements.
    static func load(_ conn: PGConnection, runs count: Int, seed: UInt64 = 42) async throws -> HistoryFixture {
        var fixture = HistoryFixture()
        let workflows = WorkflowStore(connection: conn)
        let principals = PrincipalStore(connection: conn)
        for name in ["alice", "bob"] { _ = try await principals.create(name, as: "admin") }
        for row in try await conn.query("SELECT id, name FROM trellis.principals").rows {
            fixture.principals[try row.decode("name")] = try row.decode("id")
        }
        let chain = { (name: String, keys: [String]) -> String in
            let nodes = keys.map { key in
                key == "gate" ? #"{"key": "gate", "kind": "human_gate", "prompt": "Ship it?"}"#
                    : #"{"key": "\#(key)", "kind": "tool_call", "handler": "echo"}"#
            }
            let edges = zip(keys, keys.dropFirst()).map { #"{"from": "\#($0)", "to": "\#($1)"}"# }
            return #"{"name": "\#(name)", "nodes": [\#(nodes.joined(separator: ", "))], "edges": [\#(edges.joined(separator: ", "))]}"#
        }
        _ = try await workflows.publish(definition: chain("alpha", ["fetch", "score", "publish"]), as: "admin")
        _ = try await workflows.publish(definition: chain("alpha", ["fetch", "score", "publish", "notify"]), as: "admin")
        _ = try await workflows.publish(definition: chain("beta", ["check", "gate", "ship"]), as: "admin")
        fixture.shapes = [
            Shape(workflow: "alpha", version: 1, failWeights: [2, 6, 2]),
            Shape(workflow: "alpha", version: 2, failWeights: [1, 2, 6, 1]),
            Shape(workflow: "beta", version: 1, failWeights: [3, 5, 2]),
        ]
        for index in fixture.shapes.indices {
            let shape = fixture.shapes[index]
            let row = try await conn.query("""
                SELECT w.id AS workflow_id, v.id AS version_id FROM trellis.workflows w
                JOIN trellis.workflow_versions v ON v.workflow_id = w.id WHERE w.name = $1 AND v.version = $2
                """, [shape.workflow, shape.version]).single()
            fixture.shapes[index].workflowID = try row.decode("workflow_id")
            fixture.shapes[index].versionID = try row.decode("version_id")
            fixture.shapes[index].nodes = try await conn.query(
                "SELECT id, key, kind, handler FROM trellis.workflow_nodes WHERE version_id = $1 ORDER BY execution_level",
                [fixture.shapes[index].versionID]
            ).rows.map { (try $0.decode("key"), try $0.decode("kind"), try $0.decodeIfPresent("handler"), try $0.decode("id")) }
        }
        let store = SchedulerStore(connection: conn)
        for name in ["sched-a", "sched-b"] {
            fixture.schedulers.append((try await store.registerScheduler(name: name, handlers: ["echo"]), name))
        }

        var random = Random(state: seed)
        for index in 0..<count {
            fixture.generate(index: index, random: &random)
        }
        try await fixture.write(conn)
        return fixture
    }

    mutating func generate(index: Int, random: inout Random) {
        let shape = shapes[index % shapes.count]
        let starter = ["admin", "alice", "bob"][random.next(3)]
        let created = Int64(random.next(30 * Int(Self.day)))
        let queue = Int64(random.next(5000))
        let roll = random.next(100)
        let outcome = roll < 70 ? "succeeded" : roll < 85 ? "failed" : roll < 93 ? "cancelled" : "unfinished"
        // Where the run stops (failing, cancelled or still open node).
        var stop = shape.nodes.count
        if outcome != "succeeded" {
            if outcome == "failed" {
                var pick = random.next(shape.failWeights.reduce(0, +))
                stop = shape.failWeights.firstIndex { weight in
                    defer { pick -= weight }
                    return pick < weight
                }!
            } else {
                stop = random.next(shape.nodes.count)
            }
        }
        var run = Run(
            id: UUID(), workflow_id: shape.workflowID, version_id: shape.versionID, status: "running",
            started_by: principals[starter]!, total_cost: 0, created_at: Self.timestamp(created),
            started_at: Self.timestamp(created + queue), nodes_remaining: 0, workflow: shape.workflow,
            version: shape.version, starter: starter, createdMS: created, queueMS: queue)
        var clock = created + queue
        for (position, node) in shape.nodes.enumerated() {
            var record = Node(
                run_id: run.id, workflow_id: shape.workflowID, node_id: node.id, node_key: node.key, kind: node.kind,
                handler: node.handler, status: "pending", attempt: 0, cost: 0)
            let reached = position <= stop && position < shape.nodes.count
            if !reached || (position == stop && outcome == "succeeded") {
                // Never started: cancelled when the run ended, pending while it is open.
                record.status = outcome == "unfinished" ? "pending" : "cancelled"
                if outcome != "unfinished" { record.finished_at = Self.timestamp(clock) }
                run.nodes.append(record)
                continue
            }
            let last = position == stop
            if node.kind == "human_gate" {
                let opened = clock
                let waited = Int64(1 + random.next(3_600_000))
                var approval = Approval(
                    id: UUID(), run_id: run.id, status: "pending", prompt: "Ship it?", created_at: Self.timestamp(opened),
                    nodeKey: node.key, votes: [])
                record.ready_at = Self.timestamp(opened)
                record.started_at = Self.timestamp(opened)
                if last && outcome == "unfinished" {
                    record.status = "waiting"
                } else {
                    clock = opened + waited
                    approval.decided_at = Self.timestamp(clock)
                    approval.waitedMS = waited
                    record.finished_at = Self.timestamp(clock)
                    record.durationMS = waited
                    if !last || outcome == "succeeded" {
                        let who = ["alice", "bob"][random.next(2)]
                        approval.status = "approved"
                        approval.decided_by = principals[who]
                        approval.decider = who
                        approval.votes = [Vote(approval_id: approval.id, principal_id: principals[who]!, decision: "approve",
                                               comment: "ok", decided_at: Self.timestamp(clock), principal: who)]
                        record.status = "succeeded"
                    } else if outcome == "failed" {
                        if random.next(2) == 0 {
                            approval.status = "rejected"
                            approval.decided_by = principals["bob"]
                            approval.decider = "bob"
                            approval.votes = [Vote(approval_id: approval.id, principal_id: principals["bob"]!, decision: "reject",
                                                   comment: "no", decided_at: Self.timestamp(clock), principal: "bob")]
                        } else {
                            approval.status = "expired"
                        }
                        record.status = "failed"
                        record.error = .object(["code": .string(approval.status), "message": .string("gate \(approval.status)")])
                    } else {
                        approval.status = "expired"
                        approval.comment = "run ended before a decision"
                        record.status = "cancelled"
                    }
                }
                approvals.append(approval)
                run.nodes.append(record)
                continue
            }
            // A work node: 1 to 3 attempts; all but the last failed (or timed out, or lost).
            let tries = 1 + (random.next(10) < 3 ? 1 + random.next(2) : 0)
            for attempt in 1...tries {
                let wait = Int64(random.next(2000))
                let ready = clock
                let start = ready + wait
                let scheduler = schedulers[random.next(2)]
                var entry = Attempt(
                    run_id: run.id, attempt: attempt, scheduler_id: scheduler.id, scheduler_name: scheduler.name,
                    outcome: "failed", cost: Decimal(random.next(50_000)) / 1_000_000, started_at: Self.timestamp(start),
                    startMS: start, nodeKey: node.key)
                let final = attempt == tries
                if final && last && outcome == "unfinished" {
                    entry.outcome = "running"
                    record.status = "running"
                    record.lease_expires_at = Self.timestamp(start + 30_000)
                    record.scheduler_id = scheduler.id
                } else {
                    let finish = start + 10 + Int64(random.next(3000))
                    entry.finished_at = Self.timestamp(finish)
                    entry.finishMS = finish
                    clock = finish
                    if !final {
                        entry.outcome = ["failed", "timed_out", "lost"][random.next(3)]
                        entry.error = .object(["code": .string(entry.outcome), "message": .string("try again")])
                    } else if last && outcome == "failed" {
                        entry.outcome = "failed"
                        entry.error = .object(["code": .string("handler_error"), "message": .string("boom in \(node.key)")])
                        record.status = "failed"
                        record.error = entry.error
                    } else if last && outcome == "cancelled" {
                        entry.outcome = "cancelled"
                        record.status = "cancelled"
                    } else {
                        entry.outcome = "succeeded"
                        record.status = "succeeded"
                    }
                }
                if attempt == 1 { record.started_at = Self.timestamp(start) }
                if final {
                    record.ready_at = Self.timestamp(ready)
                    record.waitMS = wait
                    record.claimed_by = scheduler.name
                }
                record.cost += entry.cost
                record.attempts.append(entry)
            }
            record.attempt = tries
            if record.status != "running" {
                record.finished_at = Self.timestamp(clock)
                record.durationMS = clock - record.attempts[0].startMS
            }
            run.total_cost += record.cost
            run.nodes.append(record)
        }
        switch outcome {
        case "unfinished":
            run.status = run.nodes.contains { $0.status == "waiting" } ? "waiting" : "running"
            run.nodes_remaining = run.nodes.filter { !["succeeded", "failed", "cancelled", "skipped"].contains($0.status) }.count
        default:
            run.status = outcome
            run.finished_at = Self.timestamp(clock)
            run.durationMS = clock - created
            if outcome == "failed" {
                let failed = run.nodes.first { $0.status == "failed" }!
                run.failed_node = failed.node_key
                run.error = .object(["node_key": .string(failed.node_key), "code": .string("handler_error"), "message": .string("failed")])
            } else if outcome == "cancelled" {
                run.error = .object(["code": .string("cancelled"), "message": .string("cancelled"), "by": .string(starter)])
            }
        }
        runs.append(run)
    }

    func write(_ conn: PGConnection) async throws {
        try await conn.query("""
            INSERT INTO trellis.workflow_runs (id, workflow_id, version_id, status, started_by, total_cost, failed_node, error,
                                               created_at, started_at, finished_at, nodes_remaining)
            SELECT id, workflow_id, version_id, status, started_by, total_cost, failed_node, error, created_at, started_at,
                   finished_at, nodes_remaining
            FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, workflow_id bigint, version_id bigint, status text, started_by bigint,
                total_cost numeric, failed_node text, error jsonb, created_at timestamptz, started_at timestamptz,
                finished_at timestamptz, nodes_remaining integer)
            """, [try PGJSON(encoding: runs)])
        let nodes = runs.flatMap(\.nodes)
        let ids = try await conn.query("""
            INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, status, attempt, max_attempts,
                                           ready_at, scheduler_id, claimed_by, lease_expires_at, error, cost, started_at, finished_at)
            SELECT run_id, workflow_id, node_id, node_key, kind, handler, status, attempt, max_attempts, ready_at, scheduler_id,
                   claimed_by, lease_expires_at, error, cost, started_at, finished_at
            FROM jsonb_to_recordset($1::jsonb) AS x(run_id uuid, workflow_id bigint, node_id bigint, node_key text, kind text,
                handler text, status text, attempt integer, max_attempts integer, ready_at timestamptz, scheduler_id bigint,
                claimed_by text, lease_expires_at timestamptz, error jsonb, cost numeric, started_at timestamptz,
                finished_at timestamptz)
            RETURNING id, run_id, node_key
            """, [try PGJSON(encoding: nodes)]).rows
        var nodeIDs: [String: Int64] = [:]
        for row in ids {
            nodeIDs["\(try row.decode("run_id", as: UUID.self)):\(try row.decode("node_key", as: String.self))"] = try row.decode("id")
        }
        let attempts = nodes.flatMap { node in
            node.attempts.map { attempt in
                var copy = attempt
                copy.node_run_id = nodeIDs["\(node.run_id):\(node.node_key)"]!
                return copy
            }
        }
        try await conn.query("""
            INSERT INTO trellis.node_attempts (node_run_id, run_id, attempt, scheduler_id, scheduler_name, outcome, error, cost,
                                               started_at, finished_at)
            SELECT node_run_id, run_id, attempt, scheduler_id, scheduler_name, outcome, error, cost, started_at, finished_at
            FROM jsonb_to_recordset($1::jsonb) AS x(node_run_id bigint, run_id uuid, attempt integer, scheduler_id bigint,
                scheduler_name text, outcome text, error jsonb, cost numeric, started_at timestamptz, finished_at timestamptz)
            """, [try PGJSON(encoding: attempts)])
        let gates = approvals.map { approval in
            var copy = approval
            copy.node_run_id = nodeIDs["\(approval.run_id):\(approval.nodeKey)"]!
            return copy
        }
        try await conn.query("""
            INSERT INTO trellis.approvals (id, run_id, node_run_id, status, prompt, decided_by, decided_at, comment, created_at)
            SELECT id, run_id, node_run_id, status, prompt, decided_by, decided_at, comment, created_at
            FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, run_id uuid, node_run_id bigint, status text, prompt text,
                decided_by bigint, decided_at timestamptz, comment text, created_at timestamptz)
            """, [try PGJSON(encoding: gates)])
        try await conn.query("""
            INSERT INTO trellis.approval_decisions (approval_id, principal_id, decision, comment, decided_at)
            SELECT approval_id, principal_id, decision, comment, decided_at
            FROM jsonb_to_recordset($1::jsonb) AS x(approval_id uuid, principal_id bigint, decision text, comment text,
                decided_at timestamptz)
            """, [try PGJSON(encoding: approvals.flatMap(\.votes))])
        try await conn.execute(script: "ANALYZE")
    }
}
