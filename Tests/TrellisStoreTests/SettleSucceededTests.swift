import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// complete_nodes settles successful results through settle_succeeded, unless the batch
/// holds a parallel node's child: then every result goes through settle_nodes and
/// append_events, the path failures and control nodes take. The two must leave the same
/// history: these tests drive one run of a workflow through each and compare what is left.
@Suite("Settling successful results")
struct SettleSucceededTests {
    private static let fan = """
        {"name": "fan", "nodes": [
          {"key": "root", "kind": "tool_call", "handler": "echo"},
          {"key": "leaf1", "kind": "tool_call", "handler": "echo"},
          {"key": "leaf2", "kind": "tool_call", "handler": "echo"},
          {"key": "leaf3", "kind": "tool_call", "handler": "echo"}],
         "edges": [{"from": "root", "to": "leaf1"}, {"from": "root", "to": "leaf2"}, {"from": "root", "to": "leaf3"}]}
        """
    /// A parallel node's children: one in a batch sends every result of it the general way.
    private static let items = """
        {"name": "items", "nodes": [
          {"key": "list", "kind": "tool_call", "handler": "echo", "input": {"items": "$input.items"}},
          {"key": "each", "kind": "parallel", "handler": "echo", "items": "$list.items"}],
         "edges": [{"from": "list", "to": "each"}]}
        """
    private static let single = """
        {"name": "single", "nodes": [{"key": "only", "kind": "tool_call", "handler": "echo"}], "edges": []}
        """

    private static let small = JSONValue.object(["n": .number(1), "tags": .array([.string("x"), .string("y")])])

    /// What a leaf reports: a small object, a string past the 64 KiB inline limit of
    /// node.output, and JSON null; with costs and tokens.
    private static func result(for key: String, _ claim: SchedulerStore.Claim) -> SchedulerStore.Success {
        switch key {
        case "leaf1": .init(id: claim.nodeRunID, attempt: claim.attempt, output: Self.small, cost: 0.25, tokensIn: 10, tokensOut: 20)
        case "leaf2": .init(id: claim.nodeRunID, attempt: claim.attempt, output: .string(String(repeating: "z", count: 70_000)), cost: 1.5)
        default: .init(id: claim.nodeRunID, attempt: claim.attempt, output: .null)
        }
    }

    @Test func theShortPathLeavesTheHistoryTheGeneralPathLeaves() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                for definition in [Self.fan, Self.items, Self.single] { _ = try await workflows.publish(definition: definition, as: "admin") }
                let driver = try await Driver.make(conn)
                let short = try await driver.store.start("fan", as: "admin").runID
                let general = try await driver.store.start("fan", as: "admin").runID
                let singles = [try await driver.store.start("single", as: "admin").runID, try await driver.store.start("single", as: "admin").runID]
                let parallel = try await driver.store.start("items", input: #"{"items": [1, 2, 3]}"#, as: "admin").runID

                var claims = try await driver.claim()
                func take(_ run: UUID, _ key: String) throws -> SchedulerStore.Claim {
                    let index = try #require(claims.firstIndex { $0.runID == run && $0.nodeKey == key }, "\(key) of \(run) not claimed")
                    return claims.remove(at: index)
                }
                func complete(_ results: [SchedulerStore.Success]) async throws {
                    let reports = try await driver.scheduling.complete(scheduler: driver.scheduler, results)
                    let refused = reports.filter { !$0.accepted }
                    #expect(refused.isEmpty, "\(refused)")
                }
                func child() throws -> SchedulerStore.Success {
                    let claim = try take(parallel, "each")
                    return .init(id: claim.nodeRunID, attempt: claim.attempt, output: .object(["item": .number(Double(claim.itemIndex ?? -1))]))
                }
                let list = try take(parallel, "list")
                try await complete([.init(id: list.nodeRunID, attempt: list.attempt, output: .object(["items": .array([1, 2, 3].map { .number($0) })]))])
                claims += try await driver.claim()  // the three children
                func root(_ run: UUID) throws -> SchedulerStore.Success {
                    let claim = try take(run, "root")
                    return .init(id: claim.nodeRunID, attempt: claim.attempt, output: .object(["root": .bool(true)]), cost: 2)
                }

                // The root has dependents; alone it settles the short way, beside a child the general way.
                try await complete([try root(short)])
                try await complete([try root(general), try child()])
                claims += try await driver.claim()
                // The leaves in two batches each, out of order, beside another run's sink:
                // first leaf3 and leaf1 (the run goes on), then leaf2 (the run ends).
                try await complete([Self.result(for: "leaf3", try take(short, "leaf3")), Self.result(for: "leaf1", try take(short, "leaf1")),
                                    Self.result(for: "single", try take(singles[0], "only"))])
                try await complete([Self.result(for: "leaf2", try take(short, "leaf2"))])
                try await complete([Self.result(for: "leaf3", try take(general, "leaf3")), Self.result(for: "leaf1", try take(general, "leaf1")),
                                    Self.result(for: "single", try take(singles[1], "only")), try child()])
                try await complete([Self.result(for: "leaf2", try take(general, "leaf2")), try child()])
                #expect(try await driver.store.run(parallel).status == "succeeded")

                let shortHistory = try await history(conn, short)
                #expect(shortHistory == (try await history(conn, general)))
                #expect(try await history(conn, singles[0]) == (try await history(conn, singles[1])))

                // And the history is the one the protocol describes.
                let events = try await driver.store.events(of: short)
                #expect(events.map(\.seq) == Array(1...Int64(events.count)))
                #expect(events.suffix(7).map(\.type) == ["node.finished", "node.output", "node.finished", "node.output",
                                                         "node.finished", "node.output", "run.finished"])
                let data = try events.map { try $0.data.decode(JSONValue.self) }
                let finished = try #require(data.last)
                #expect(finished["status"] == .string("succeeded"))
                #expect(finished["total_cost"] == .number(3.75))  // 2 + 0.25 + 1.5 + 0
                #expect(finished["summary"] == .object(["succeeded": .number(4)]))
                let truncated = try #require(zip(events, data).first { $0.0.type == "node.output" && $0.1["node_key"] == .string("leaf2") }).1
                #expect(truncated["truncated"] == .bool(true) && truncated["output"] == .null)
                let run = try await driver.store.run(short)
                #expect(run.status == "succeeded")
                #expect(try run.output?.decode(JSONValue.self)["leaf1"] == Self.small)
                let row = try await conn.query("SELECT nodes_remaining, last_seq FROM trellis.workflow_runs WHERE id = $1", [short]).single()
                #expect(try row.decode("nodes_remaining", as: Int.self) == 0)
                #expect(try row.decode("last_seq", as: Int64.self) == Int64(events.count))
            }
        }
    }

    @Test func aRefusedResultLeavesTheRestOfTheBatchSettled() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.single, as: "admin")
                let driver = try await Driver.make(conn)
                let runs = [try await driver.store.start("single", as: "admin").runID, try await driver.store.start("single", as: "admin").runID]
                let claims = try await driver.claim()
                #expect(claims.count == 2)
                let reports = try await driver.scheduling.complete(scheduler: driver.scheduler, [
                    .init(id: claims[0].nodeRunID, attempt: claims[0].attempt, output: .object(["first": .bool(true)])),
                    .init(id: claims[0].nodeRunID, attempt: claims[0].attempt, output: .object(["again": .bool(true)])),
                    .init(id: claims[1].nodeRunID, attempt: claims[1].attempt + 1, output: .object(["stale": .bool(true)])),
                ])
                #expect(reports.map(\.accepted) == [true, false, false])
                #expect(reports[1].reason == "duplicate result in this batch")
                let done = try #require(runs.first { $0 == claims[0].runID })
                let open = try #require(runs.first { $0 == claims[1].runID })
                #expect(try await driver.store.run(done).status == "succeeded")
                #expect(try await driver.store.events(of: done).last?.type == "run.finished")
                #expect(try await driver.store.run(open).status == "running")
                #expect(try await statuses(driver.store, open)["only"] == "running")
                #expect(try await driver.store.events(of: open).map(\.type) == ["run.queued", "run.started", "node.started"])
            }
        }
    }

    /// A run's events, node runs and attempts, and its row, without ids and clocks: equal
    /// for two runs of one workflow that went through the same steps.
    private func history(_ conn: PGConnection, _ run: UUID) async throws -> [String] {
        let volatile = "'{node_run_id,duration_ms,started_at,finished_at,scheduler}'::text[]"
        return try await conn.query("""
            SELECT x.line FROM (
                SELECT 1 AS part, e.seq AS ord, e.seq || ' ' || e.type || ' ' || (e.data - \(volatile))::text AS line
                FROM trellis.run_events e WHERE e.run_id = $1
                UNION ALL
                SELECT 2, 0, n.node_key || ' ' || n.status || ' ' || n.attempt || ' ' || n.cost || ' ' || coalesce(n.output::text, '-')
                             || ' ' || (n.lease_expires_at IS NULL) || ' ' || (n.finished_at IS NOT NULL)
                FROM trellis.node_runs n WHERE n.run_id = $1
                UNION ALL
                SELECT 3, 0, n.node_key || ' ' || a.attempt || ' ' || a.outcome || ' ' || a.cost || ' ' || coalesce(a.tokens_in, -1)
                             || ' ' || coalesce(a.tokens_out, -1) || ' ' || (a.finished_at IS NOT NULL)
                FROM trellis.node_attempts a JOIN trellis.node_runs n ON n.id = a.node_run_id WHERE a.run_id = $1
                UNION ALL
                SELECT 4, 0, r.status || ' ' || r.nodes_remaining || ' ' || r.last_seq || ' ' || r.total_cost || ' '
                             || coalesce(r.output::text, '-') || ' ' || (r.finished_at IS NOT NULL) || ' ' || (r.started_at IS NOT NULL)
                FROM trellis.workflow_runs r WHERE r.id = $1
            ) x ORDER BY x.part, x.ord, x.line
            """, [run]).rows.map { try $0.decode("line", as: String.self) }
    }
}
