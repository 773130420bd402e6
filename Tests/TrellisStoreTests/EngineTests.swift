import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// Runs through the engine's SQL: bindings, fan-out and join, conditions and skips.
@Suite("Execution engine (SQL)")
struct EngineTests {
    @Test func linearRunResolvesBindingsAndRecordsEveryEvent() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let started = try await driver.store.start(
                "linear-pipeline", input: #"{"record": {"id": 7}, "source": "crm"}"#, as: "admin")
            #expect(started.status == "queued")

            let first = try await driver.claim()
            #expect(first.map(\.nodeKey) == ["extract"])
            #expect(try first[0].input.decode(JSONValue.self) == .object(["record": .object(["id": .number(7)]), "source": .string("crm")]))
            #expect(first[0].attempt == 1)
            #expect(first[0].timeoutMilliseconds == 30_000)
            _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [
                .init(id: first[0].nodeRunID, attempt: 1, output: .object(["record": .object(["id": .number(7), "name": .string("Ada")])]), cost: 0.25),
            ])
            let second = try await driver.claim()
            #expect(second.map(\.nodeKey) == ["transform"])
            #expect(try second[0].input.decode(JSONValue.self)["record"]?["name"] == .string("Ada"))
            _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [
                .init(id: second[0].nodeRunID, attempt: 1, output: .object(["record": .string("ADA")])),
            ])
            #expect(try await driver.drain() == ["load"])

            let run = try await driver.store.run(started.runID)
            #expect(run.status == "succeeded")
            #expect(run.totalCost == Decimal(string: "0.25"))
            #expect(try run.output?.decode(JSONValue.self)["load"]?["table"] == .string("analytics.records"))
            let events = try await driver.store.events(of: started.runID)
            #expect(events.map(\.seq) == Array(1...Int64(events.count)))
            #expect(events.map(\.type) == [
                "run.queued", "run.started", "node.started", "node.finished", "node.output",
                "node.started", "node.finished", "node.output", "node.started", "node.finished", "node.output", "run.finished",
            ])
            #expect(run.lastSeq == Int64(events.count))
            let finished = try events.last!.data.decode(JSONValue.self)
            #expect(finished["status"] == .string("succeeded"))
            #expect(finished["summary"]?["succeeded"] == .number(3))
        }
    }

    @Test func fanOutRunsBranchesTogetherAndJoinMergesThem() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "graphs"}"#, as: "admin").runID
            let order = try await driver.drain { claim in
                claim.nodeKey == "plan" ? .object(["topic": .string("graphs")]) : .object(["from": .string(claim.nodeKey)])
            }
            #expect(order == ["plan", "search_web", "search_papers", "search_code", "report"])
            let nodes = try await driver.store.nodes(of: run)
            let gather = try #require(nodes.first { $0.key == "gather" })
            #expect(gather.status == "succeeded")
            #expect(Set((try gather.output?.decode([String: JSONValue].self) ?? [:]).keys) == ["search_web", "search_papers", "search_code"])
            let report = try #require(nodes.first { $0.key == "report" })
            #expect(try report.input?.decode(JSONValue.self)["papers"]?["from"] == .string("search_papers"))
            #expect(try await driver.store.run(run).status == "succeeded")
        }
    }

    @Test(arguments: [(90, "manual_review", "ship"), (10, "ship", "manual_review")])
    func conditionTakesOneBranchAndSkipsTheOther(score: Int, taken: String, skipped: String) async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("condition-branch", input: #"{"order": "A-1", "score": \#(score)}"#, as: "admin").runID
            #expect(try await driver.drain() == ["score", taken])
            let status = try await statuses(driver.store, run)
            #expect(status["risky"] == "succeeded")
            #expect(status[taken] == "succeeded")
            #expect(status[skipped] == "skipped")
            #expect(status["notify"] == "succeeded")  // a join counts the skipped input as done
            #expect(try await driver.store.run(run).status == "succeeded")
        }
    }

    @Test func joinModesAndSkipPropagation() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "joins", "nodes": [
                      {"key": "a", "kind": "tool_call", "handler": "echo"},
                      {"key": "b", "kind": "tool_call", "handler": "echo"},
                      {"key": "c", "kind": "tool_call", "handler": "echo"},
                      {"key": "gate", "kind": "condition", "predicate": "$.input.go == true"},
                      {"key": "never", "kind": "tool_call", "handler": "echo"},
                      {"key": "after_never", "kind": "tool_call", "handler": "echo"},
                      {"key": "any_of", "kind": "join", "mode": "any"},
                      {"key": "two_of", "kind": "join", "mode": "n", "n": 2},
                      {"key": "all_skipped", "kind": "join", "mode": "all"},
                      {"key": "never2", "kind": "tool_call", "handler": "echo"}],
                     "edges": [
                      {"from": "a", "to": "any_of"}, {"from": "b", "to": "any_of"},
                      {"from": "a", "to": "two_of"}, {"from": "b", "to": "two_of"}, {"from": "c", "to": "two_of"},
                      {"from": "gate", "to": "never", "label": "true"}, {"from": "gate", "to": "never2", "label": "false"},
                      {"from": "never", "to": "after_never"},
                      {"from": "after_never", "to": "all_skipped"}, {"from": "never2", "to": "all_skipped"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("joins", input: #"{"go": false}"#, as: "admin").runID
                var status = try await statuses(driver.store, run)
                #expect(status["never"] == "skipped")
                #expect(status["after_never"] == "skipped")   // skips propagate
                #expect(status["never2"] == "ready")

                // Complete only `a`: `any_of` fires at once, `two_of` waits for a second input.
                let claims = try await driver.claim()
                let a = try #require(claims.first { $0.nodeKey == "a" })
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: a.nodeRunID, attempt: 1, output: .string("A"))])
                status = try await statuses(driver.store, run)
                #expect(status["any_of"] == "succeeded")
                #expect(status["two_of"] == "pending")
                let b = try #require(claims.first { $0.nodeKey == "b" })
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: b.nodeRunID, attempt: 1, output: .string("B"))])
                #expect(try await statuses(driver.store, run)["two_of"] == "succeeded")
                let rest = claims.filter { $0.nodeKey != "a" && $0.nodeKey != "b" }
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, rest.map { .init(id: $0.nodeRunID, attempt: 1, output: .null) })
                status = try await statuses(driver.store, run)
                #expect(status["all_skipped"] == "succeeded")  // never2 ran; after_never skipped counts as done
                #expect(try await driver.store.run(run).status == "succeeded")

                // With go = true the false branch is skipped and `all_skipped` still runs on the taken one.
                let second = try await driver.store.start("joins", input: #"{"go": true}"#, as: "admin").runID
                try await driver.drain()
                let final = try await statuses(driver.store, second)
                #expect(final["never2"] == "skipped")
                #expect(final["after_never"] == "succeeded")
                #expect(final["all_skipped"] == "succeeded")
            }
        }
    }
}
