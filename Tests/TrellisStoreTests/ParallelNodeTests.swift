import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

@Suite("Parallel nodes")
struct ParallelTests {
    private func publish(_ conn: PGConnection, concurrency: Int?, onError: String = "fail", attempts: Int = 1) async throws {
        let cap = concurrency.map { #", "concurrency": \#($0)"# } ?? ""
        let definition = """
            {"name": "fan", "nodes": [
              {"key": "list", "kind": "tool_call", "handler": "echo", "input": {"items": "$input.items"}},
              {"key": "each", "kind": "parallel", "handler": "echo", "items": "$list.items"\(cap), "on_error": "\(onError)",
               "retry": {"max_attempts": \(attempts), "initial_delay": 0}},
              {"key": "sum", "kind": "tool_call", "handler": "echo", "input": {"results": "$each"}}],
             "edges": [{"from": "list", "to": "each"}, {"from": "each", "to": "sum"}]}
            """
        _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
    }

    @Test(arguments: [0, 1, 7])
    func runsOneChildPerItemAndKeepsTheirOrder(count: Int) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await publish(conn, concurrency: nil)
                let driver = try await Driver.make(conn)
                let items = (0..<count).map { #"{"n": \#($0)}"# }.joined(separator: ", ")
                let run = try await driver.store.start("fan", input: #"{"items": [\#(items)]}"#, as: "admin").runID
                // Items finish in reverse order; the output keeps item order.
                let claimed = try await driver.drain { claim in
                    guard claim.nodeKey == "each" else { return try claim.input.decode(JSONValue.self) }
                    return .object(["doubled": .number((try claim.input.decode(JSONValue.self)["n"]?.doubleValue ?? -1) * 2)])
                }
                #expect(claimed.filter { $0 == "each" }.count == count)
                let final = try await driver.store.run(run)
                #expect(final.status == "succeeded")
                let results = try final.output?.decode(JSONValue.self)["sum"]?["results"]
                #expect(results == .array((0..<count).map { .object(["doubled": .number(Double($0 * 2))]) }))
                let each = try #require(try await driver.store.nodes(of: run).first { $0.key == "each" })
                #expect(each.status == "succeeded")
            }
        }
    }

    @Test func concurrencyCapsItemsInFlight() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await publish(conn, concurrency: 2)
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan", input: #"{"items": [1, 2, 3, 4, 5]}"#, as: "admin").runID
                let list = try #require(try await driver.claim().first)
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: list.nodeRunID, attempt: 1, output: .object(["items": .array([1, 2, 3, 4, 5].map { .number($0) })]))])
                var seen: [Int] = []
                while true {
                    let claims = try await driver.claim()
                    if claims.isEmpty { break }
                    #expect(claims.count <= 2)
                    seen += claims.compactMap(\.itemIndex)
                    _ = try await driver.scheduling.complete(scheduler: driver.scheduler, claims.map { .init(id: $0.nodeRunID, attempt: 1, output: $0.nodeKey == "each" ? .number(Double($0.itemIndex ?? 0)) : .null) })
                }
                #expect(seen == [0, 1, 2, 3, 4])
                #expect(try await driver.store.run(run).status == "succeeded")
                let parentEvents = try await driver.store.events(of: run).filter { $0.type == "node.finished" }
                    .map { try $0.data.decode(JSONValue.self) }.filter { $0["node_key"] == .string("each") && $0["item_index"] == nil }
                #expect(parentEvents.first?["item_count"] == .number(5))
            }
        }
    }

    @Test func aFailingItemRetriesThenFailsTheRun() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await publish(conn, concurrency: 1, attempts: 2)
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan", input: #"{"items": ["a", "b", "c"]}"#, as: "admin").runID
                try await driver.drain { claim in
                    if claim.nodeKey == "each", claim.itemIndex == 1 { throw HandlerFailure() }
                    return try claim.input.decode(JSONValue.self)
                }
                // Item 1 was claimed and left running (concurrency 1 holds back item 2): fail it
                // once, claim the retry, fail it again — out of attempts.
                let held = try await conn.query("SELECT id, attempt FROM trellis.node_runs WHERE item_index = 1").single()
                let first = try await driver.scheduling.fail(scheduler: driver.scheduler, [
                    .init(id: try held.decode("id"), attempt: try held.decode("attempt"), error: .init(code: "boom", message: "bad item")),
                ])
                #expect(first[0].outcome == "retry_scheduled")
                let retry = try #require(try await driver.claim().first { $0.itemIndex == 1 })
                #expect(retry.attempt == 2)
                let second = try await driver.scheduling.fail(scheduler: driver.scheduler, [
                    .init(id: retry.nodeRunID, attempt: 2, error: .init(code: "boom", message: "bad item")),
                ])
                #expect(second[0].outcome == "failed_run")
                let final = try await driver.store.run(run)
                #expect(final.status == "failed")
                #expect(try final.error?.decode(JSONValue.self)["message"] == .string("item 1 failed: bad item"))
                let children = try await conn.query(
                    "SELECT item_index, status FROM trellis.node_runs WHERE parent_id IS NOT NULL ORDER BY item_index"
                ).rows.map { "\(try $0.decode("item_index", as: Int.self)):\(try $0.decode("status", as: String.self))" }
                #expect(children == ["0:succeeded", "1:failed", "2:cancelled"])
            }
        }
    }

    @Test func itemsThatAreNotAnArrayFailTheNode() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                try await publish(conn, concurrency: nil, onError: "continue")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan", input: #"{"items": "oops"}"#, as: "admin").runID
                try await driver.drain()
                let final = try await driver.store.run(run)
                #expect(final.status == "succeeded")  // on_error: continue
                let each = try #require(try await driver.store.nodes(of: run).first { $0.key == "each" })
                #expect(each.status == "failed")
                #expect(try each.error?.decode(JSONValue.self)["code"] == .string("items_not_array"))
            }
        }
    }
}
