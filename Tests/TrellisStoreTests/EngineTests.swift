import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// Drives runs the way a scheduler would, without one: claim every ready node and
/// complete it with `respond(claim)` (default: echo the input), until nothing is ready.
struct Driver {
    let store: RunStore
    /// The scheduler side: claim, complete, fail, heartbeat, reclaim, stop.
    let scheduling: SchedulerStore
    let scheduler: Int64
    static let handlers = ["echo", "sleep", "http", "sql", "fail"]

    static func make(_ conn: PGConnection, name: String = "test-scheduler") async throws -> Driver {
        let scheduling = SchedulerStore(connection: conn)
        return Driver(store: RunStore(connection: conn), scheduling: scheduling,
                      scheduler: try await scheduling.registerScheduler(name: name, handlers: handlers))
    }

    /// Claims once; returns the claims.
    func claim(max: Int = 100) async throws -> [SchedulerStore.Claim] {
        try await scheduling.claim(scheduler: scheduler, handlers: Self.handlers, max: max)
    }

    func echo(_ claim: SchedulerStore.Claim) throws -> JSONValue {
        try claim.input.decode(JSONValue.self)
    }

    @discardableResult
    func drain(_ respond: ((SchedulerStore.Claim) throws -> JSONValue)? = nil) async throws -> [String] {
        var order: [String] = []
        for _ in 0..<100 {
            let claims = try await claim()
            if claims.isEmpty { return order }
            order += claims.map(\.nodeKey)
            var results: [SchedulerStore.Success] = []
            for claim in claims {
                do {
                    results.append(.init(id: claim.nodeRunID, attempt: claim.attempt, output: try (respond ?? echo)(claim)))
                } catch is HandlerFailure {
                    continue  // left running: the test reports it itself
                }
            }
            if results.isEmpty { return order }
            let reports = try await scheduling.complete(scheduler: scheduler, results)
            #expect(reports.filter { !$0.accepted }.isEmpty, "\(reports)")
        }
        Issue.record("runs did not drain in 100 rounds")
        return order
    }
}

func statuses(_ store: RunStore, _ run: UUID) async throws -> [String: String] {
    Dictionary(uniqueKeysWithValues: try await store.nodes(of: run).map { ($0.key, $0.status) })
}

@Suite("Execution engine (SQL)")
struct EngineTests {
    @Test func linearRunResolvesBindingsAndRecordsEveryEvent() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
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
    }

    @Test func fanOutRunsBranchesTogetherAndJoinMergesThem() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "graphs"}"#, as: "admin").runID
                #expect(try await driver.drain { claim in
                    claim.nodeKey == "plan" ? .object(["topic": .string("graphs")]) : .object(["from": .string(claim.nodeKey)])
                } == ["plan", "search_web", "search_papers", "search_code", "report"])
                let nodes = try await driver.store.nodes(of: run)
                let gather = try #require(nodes.first { $0.key == "gather" })
                #expect(gather.status == "succeeded")
                #expect(Set((try gather.output?.decode([String: JSONValue].self) ?? [:]).keys) == ["search_web", "search_papers", "search_code"])
                let report = try #require(nodes.first { $0.key == "report" })
                #expect(try report.input?.decode(JSONValue.self)["papers"]?["from"] == .string("search_papers"))
                #expect(try await driver.store.run(run).status == "succeeded")
            }
        }
    }

    @Test(arguments: [(90, "manual_review", "ship"), (10, "ship", "manual_review")])
    func conditionTakesOneBranchAndSkipsTheOther(score: Int, taken: String, skipped: String) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
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

    @Test func retriesBackOffThenFailTheRun() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "flaky", "nodes": [
                      {"key": "call", "kind": "tool_call", "handler": "http",
                       "retry": {"max_attempts": 3, "initial_delay": "10s", "multiplier": 3, "max_delay": "20s", "jitter": false}},
                      {"key": "other", "kind": "tool_call", "handler": "echo"},
                      {"key": "after", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "call", "to": "after"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("flaky", as: "admin").runID
                var expectedDelays: [Double] = [10, 20]  // 10 s, then 10 × 3 = 30 capped at 20 s
                for attempt in 1...3 {
                    let claim = try #require(try await driver.claim().first { $0.nodeKey == "call" })
                    #expect(claim.attempt == attempt)
                    let report = try await driver.scheduling.fail(scheduler: driver.scheduler, [
                        .init(id: claim.nodeRunID, attempt: attempt, error: .init(code: "http_503", message: "service unavailable")),
                    ])
                    if attempt < 3 {
                        #expect(report[0].outcome == "retry_scheduled")
                        let delay = try await conn.query("""
                            SELECT extract(epoch FROM n.ready_at - a.finished_at)::float8 AS delay
                            FROM trellis.node_runs n JOIN trellis.node_attempts a ON a.node_run_id = n.id AND a.attempt = n.attempt
                            WHERE n.id = $1
                            """, [claim.nodeRunID]).single().decode("delay", as: Double.self)
                        let expected = expectedDelays.removeFirst()
                        #expect(delay >= expected - 0.05 && delay <= expected + 0.05, "attempt \(attempt): \(delay)")
                        #expect(try await driver.claim().isEmpty)  // not before ready_at
                        // Time travel instead of sleeping: make the retry due now.
                        try await conn.query("UPDATE trellis.node_runs SET ready_at = now() WHERE id = $1", [claim.nodeRunID])
                    } else {
                        #expect(report[0].outcome == "failed_run")
                    }
                }
                let final = try await driver.store.run(run)
                #expect(final.status == "failed")
                #expect(try final.error?.decode(JSONValue.self)["node_key"] == .string("call"))
                let status = try await statuses(driver.store, run)
                #expect(status["call"] == "failed")
                #expect(status["other"] == "cancelled")   // was ready: cancelled with the run
                #expect(status["after"] == "cancelled")
                let outcomes = try await conn.query("""
                    SELECT n.node_key || ':' || a.outcome AS o FROM trellis.node_attempts a
                    JOIN trellis.node_runs n ON n.id = a.node_run_id WHERE a.run_id = $1 ORDER BY n.node_key, a.attempt
                    """, [run]).rows.map { try $0.decode("o", as: String.self) }
                // `other` was running when the run failed: its attempt is cancelled, its late result refused.
                #expect(outcomes == ["call:failed", "call:failed", "call:failed", "other:cancelled"])
                let types = try await driver.store.events(of: run).map(\.type)
                #expect(types.filter { $0 == "node.retry_scheduled" }.count == 2)
                #expect(types.last == "run.finished")
            }
        }
    }

    @Test func onErrorContinuePassesTheErrorOn() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "tolerant", "nodes": [
                      {"key": "risky", "kind": "tool_call", "handler": "http", "on_error": "continue"},
                      {"key": "report", "kind": "tool_call", "handler": "echo", "input": {"problem": "$risky.error.message"}}],
                     "edges": [{"from": "risky", "to": "report"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("tolerant", as: "admin").runID
                let claim = try #require(try await driver.claim().first)
                let report = try await driver.scheduling.fail(scheduler: driver.scheduler, [
                    .init(id: claim.nodeRunID, attempt: 1, error: .init(code: "bad_request", message: "no such city"), retryable: false),
                ])
                #expect(report[0].outcome == "continued")
                let next = try #require(try await driver.claim().first)
                #expect(try next.input.decode(JSONValue.self)["problem"] == .string("no such city"))
                try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: next.nodeRunID, attempt: 1, output: .null)])
                    .forEach { #expect($0.accepted) }
                #expect(try await driver.store.run(run).status == "succeeded")
                #expect(try await statuses(driver.store, run)["risky"] == "failed")
            }
        }
    }

    @Test func staleAndDuplicateResultsAreRefused() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let other = try await Driver.make(conn, name: "other-scheduler")
                let run = try await driver.store.start("linear-pipeline", input: #"{"record": 1}"#, as: "admin").runID
                let claim = try #require(try await driver.claim().first)

                let wrongAttempt = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: 2, output: .null)])
                #expect(wrongAttempt[0].accepted == false)
                #expect(wrongAttempt[0].reason == "stale result: attempt 2, but the node run is running at attempt 1")
                let wrongScheduler = try await other.scheduling.complete(scheduler: other.scheduler, [.init(id: claim.nodeRunID, attempt: 1, output: .null)])
                #expect(wrongScheduler[0].accepted == false)
                let unknown = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: 999_999, attempt: 1, output: .null)])
                #expect(unknown[0].reason == "unknown node run")

                let ok = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: 1, output: .string("first"))])
                #expect(ok[0].accepted)
                let duplicate = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: 1, output: .string("second"))])
                #expect(duplicate[0].accepted == false)
                let lateFailure = try await driver.scheduling.fail(scheduler: driver.scheduler, [
                    .init(id: claim.nodeRunID, attempt: 1, error: .init(code: "x", message: "late")),
                ])
                #expect(lateFailure[0].outcome == "refused")
                let extract = try #require(try await driver.store.nodes(of: run).first { $0.key == "extract" })
                #expect(try extract.output?.decode(JSONValue.self) == .string("first"))
                let finishedEvents = try await driver.store.events(of: run).filter { $0.type == "node.finished" }
                #expect(finishedEvents.count == 1)
            }
        }
    }

    @Test func progressIsFencedValidatedAndLogged() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let other = try await Driver.make(conn, name: "other-scheduler")
                let run = try await driver.store.start("linear-pipeline", input: #"{"record": 1}"#, as: "admin").runID
                let claim = try #require(try await driver.claim().first)
                let long = String(repeating: "x", count: 9000)
                let reports = try await driver.scheduling.reportProgress(scheduler: driver.scheduler, [
                    .progress(id: claim.nodeRunID, attempt: 1, percent: 40, message: "reading"),
                    .log(id: claim.nodeRunID, attempt: 1, kind: "tool_call", body: long),
                    .progress(id: claim.nodeRunID, attempt: 2, percent: 50, message: "stale"),
                ])
                #expect(reports.map(\.accepted) == [true, true, false])
                #expect(reports[2].reason == "stale result: attempt 2, but the node run is running at attempt 1")
                let foreign = try await other.scheduling.reportProgress(scheduler: other.scheduler, [
                    .progress(id: claim.nodeRunID, attempt: 1, percent: 60, message: "not mine"),
                ])
                #expect(foreign[0].accepted == false)

                for (update, message) in [
                    (SchedulerStore.Update(id: claim.nodeRunID, attempt: 1, kind: "shout"), #"each update needs kind "progress" or "log""#),
                    (.progress(id: claim.nodeRunID, attempt: 1, percent: 140, message: "too far"), "percent must be a number from 0 to 100"),
                    (.log(id: claim.nodeRunID, attempt: 1, kind: "poetry", body: "x"), "log_kind must be agent_message, tool_call, thinking or log"),
                ] {
                    let error = await #expect(throws: PGError.self) { _ = try await driver.scheduling.reportProgress(scheduler: driver.scheduler, [update]) }
                    #expect(error?.sqlState == "22023")
                    #expect(error?.message == message)
                }
                let events = try await driver.store.events(of: run).filter { $0.type == "node.progress" || $0.type == "node.log" }
                #expect(events.map(\.type) == ["node.progress", "node.log"], "only accepted updates are logged")
                let logged = try events[1].data.decode(JSONValue.self)
                #expect(logged["kind"] == .string("tool_call"))
                #expect(logged["truncated"] == .bool(true))
                #expect(logged["body"]?.stringValue?.count == 8192)

                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: 1, output: .null)])
                let late = try await driver.scheduling.reportProgress(scheduler: driver.scheduler, [
                    .progress(id: claim.nodeRunID, attempt: 1, percent: 100, message: "after the end"),
                ])
                #expect(late[0].accepted == false, "nothing lands after node.finished")
            }
        }
    }

    @Test func largeOutputsAreTruncatedInTheEventButKeptWhole() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("linear-pipeline", input: #"{"record": 1}"#, as: "admin").runID
                let claim = try #require(try await driver.claim().first)
                let big = JSONValue.object(["blob": .string(String(repeating: "z", count: 70_000))])
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: 1, output: big)])
                let event = try #require(try await driver.store.events(of: run).first { $0.type == "node.output" })
                let data = try event.data.decode(JSONValue.self)
                #expect(data["truncated"] == .bool(true))
                #expect(data["output"] == nil || data["output"] == .null)
                #expect((data["output_bytes"]?.doubleValue ?? 0) > 65_536)
                let snapshot = try await conn.query("SELECT trellis.run_snapshot($1::uuid, 'admin') AS s", [run]).single()
                    .decode("s", as: PGJSON.self).decode(JSONValue.self)
                guard case .array(let nodes)? = snapshot["nodes"] else { Issue.record("no nodes"); return }
                #expect(nodes.first { $0["node_key"] == .string("extract") }?["output"] == big, "the run API has the whole output")
            }
        }
    }

    @Test func startRunChecksItsInputs() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let store = RunStore(connection: conn)
                let first = try await store.start("linear-pipeline", as: "admin", idempotencyKey: "order-42")
                let again = try await store.start("linear-pipeline", as: "admin", idempotencyKey: "order-42")
                #expect(again.runID == first.runID)
                #expect(again.created == false)

                try await PrincipalStore(connection: conn).create("bob", as: "admin")
                let cases: [(() async throws -> Void, String, String)] = [
                    ({ _ = try await store.start("linear-pipeline", as: "bob") }, "42501", #"lacks the "run" privilege"#),
                    ({ _ = try await store.start("nope", as: "admin") }, "TR404", #"unknown workflow "nope""#),
                    ({ _ = try await store.start("linear-pipeline", input: "[1]", as: "admin") }, "22023", "run input must be a JSON object"),
                    ({ _ = try await store.start("linear-pipeline", as: "admin", version: 7) }, "TR404", "has no version 7"),
                    ({ _ = try await store.start("linear-pipeline", input: #"{"other": true}"#, as: "admin", idempotencyKey: "order-42") },
                     "TR409", #"idempotency key "order-42" already started run \#(first.runID.uuidString.lowercased()) with a different input"#),
                ]
                for (call, code, message) in cases {
                    let error = await #expect(throws: PGError.self) { try await call() }
                    #expect(error?.sqlState == code)
                    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
                }
                let runs = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
                #expect(runs == 1)
            }
        }
    }

    /// The scheduler's busy pass — report, then claim, in one transaction (pipeline mode) —
    /// takes the dependents its results made ready at once, not one round trip later.
    @Test func aPipelinedPassClaimsTheDependentsItsResultsMadeReady() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "levels", "nodes": [
                      {"key": "root", "kind": "tool_call", "handler": "echo"},
                      {"key": "left", "kind": "tool_call", "handler": "echo"},
                      {"key": "right", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "root", "to": "left"}, {"from": "root", "to": "right"}]}
                    """, as: "admin")
                let driver = try await Driver.make(conn)
                _ = try await driver.store.start("levels", as: "admin")
                let root = try #require(try await driver.claim().first)
                let exchange = try await driver.scheduling.reportAndClaim(
                    scheduler: driver.scheduler, successes: [.init(id: root.nodeRunID, attempt: root.attempt, output: .object([:]))],
                    failures: [], handlers: Driver.handlers, max: 10)
                #expect(exchange.completed.map(\.accepted) == [true])
                #expect(Set(exchange.claims.map(\.nodeKey)) == ["left", "right"])
            }
        }
    }

    @Test func claimSkipsRunsAnotherTransactionHoldsInsteadOfWaiting() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let busy = try await driver.store.start("linear-pipeline", as: "admin").runID
                let free = try await driver.store.start("linear-pipeline", as: "admin").runID
                try await db.withConnection { other in
                    // Another transaction holds the first run's row (as a completion in
                    // progress does): a claim must not wait for it (lock_timeout would
                    // fail it with 55P03), and takes the other run's node instead.
                    try await conn.execute(script: "SET lock_timeout = '2s'")
                    try await other.withTransaction { tx in
                        _ = try await tx.query("SELECT 1 FROM trellis.workflow_runs WHERE id = $1::uuid FOR NO KEY UPDATE", [busy])
                        let claims = try await driver.claim()
                        #expect(claims.map(\.runID) == [free])
                    }
                    // Released: the held run's node is claimable now.
                    #expect(try await driver.claim().map(\.runID) == [busy])
                }
            }
        }
    }

    @Test func aBatchRingsOneDoorbellPerRunWithItsNewestSeq() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "admin").runID
                let root = try await driver.claim()
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, root.map { .init(id: $0.nodeRunID, attempt: $0.attempt, output: .object([:])) })
                try await db.withConnection { bell in
                    try await bell.listen("trellis_events")
                    // Three branches claimed in one batch: three node.started events, one doorbell.
                    let branches = try await driver.claim()
                    #expect(branches.count == 3)
                    let lastSeq = try await driver.store.run(run).lastSeq
                    var payloads: [String] = []
                    while let note = try await bell.nextNotification(timeout: .milliseconds(300)) { payloads.append(note.payload) }
                    #expect(payloads == ["\(run.uuidString.lowercased()):\(lastSeq)"])
                    // Completing them: six events (finished + output each), again one doorbell.
                    _ = try await driver.scheduling.complete(scheduler: driver.scheduler, branches.map { .init(id: $0.nodeRunID, attempt: $0.attempt, output: .object([:])) })
                    payloads = []
                    while let note = try await bell.nextNotification(timeout: .milliseconds(300)) { payloads.append(note.payload) }
                    let after = try await driver.store.run(run).lastSeq
                    #expect(after > lastSeq + 5)
                    #expect(payloads.last == "\(run.uuidString.lowercased()):\(after)")
                    #expect(payloads.count <= 2, "one doorbell per batch of events (settling, then advancing the join): \(payloads)")
                }
            }
        }
    }

    @Test func claimUsesTheReadyIndexOnALargeHistory() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let run = try await RunStore(connection: conn).start("linear-pipeline", as: "admin").runID
                // 100k finished node runs beside the one ready node.
                try await conn.query("""
                    INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, status, item_index, finished_at)
                    SELECT $1::uuid, n.workflow_id, n.node_id, n.node_key, n.kind, n.handler, 'succeeded', g, now()
                    FROM trellis.node_runs n, generate_series(1, 100000) g
                    WHERE n.run_id = $1::uuid AND n.node_key = 'load'
                    """, [run])
                try await conn.execute(script: "ANALYZE trellis.node_runs")
                // The claim's selection, as in sql/030_runs/0400_function_claim_nodes.sql.
                let plan = try await conn.query("""
                    EXPLAIN SELECT n.id FROM trellis.node_runs n
                    JOIN trellis.workflow_runs r ON r.id = n.run_id
                    WHERE n.status = 'ready' AND n.ready_at <= now() AND n.handler = ANY ($1::text[])
                      AND n.workflow_id <> ALL ('{}'::bigint[])
                      AND NOT (n.workflow_id = ANY ('{}'::bigint[]) AND r.status = 'queued')
                    ORDER BY n.priority DESC, n.ready_at, n.id
                    LIMIT 32
                    FOR UPDATE OF n SKIP LOCKED
                    FOR NO KEY UPDATE OF r SKIP LOCKED
                    """, [["echo"]]).rows.map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
                #expect(plan.contains("node_runs_ready_idx"), "\(plan)")
                #expect(!plan.contains("Seq Scan"), "\(plan)")
            }
        }
    }
}

@Suite("Leases, heartbeats and reclaim")
struct LeaseTests {
    @Test func expiredLeaseIsReclaimedAndTheStaleResultRefused() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let dead = try await Driver.make(conn, name: "dead")
                let alive = try await Driver.make(conn, name: "alive")
                let run = try await dead.store.start("linear-pipeline", input: #"{"record": 1}"#, as: "admin").runID
                let lostClaim = try #require(try await dead.claim().first)

                #expect(try await alive.scheduling.reclaimExpired() == 0)  // lease still valid
                #expect(try await dead.scheduling.heartbeat(scheduler: dead.scheduler, holding: [.init(lostClaim.nodeRunID, attempt: 1)]).isEmpty)
                try await conn.query("UPDATE trellis.node_runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [lostClaim.nodeRunID])
                #expect(try await alive.scheduling.reclaimExpired() == 1)
                // linear-pipeline retries with a 1 s initial delay: make it due.
                try await conn.query("UPDATE trellis.node_runs SET ready_at = now() WHERE id = $1", [lostClaim.nodeRunID])
                let retry = try #require(try await alive.claim().first)
                #expect(retry.nodeRunID == lostClaim.nodeRunID)
                #expect(retry.attempt == 2)

                // The presumed-dead scheduler wakes up: its heartbeat says the node is gone, its result is refused.
                #expect(try await dead.scheduling.heartbeat(scheduler: dead.scheduler, holding: [.init(lostClaim.nodeRunID, attempt: 1)]) == [lostClaim.nodeRunID])
                let late = try await dead.scheduling.complete(scheduler: dead.scheduler, [.init(id: lostClaim.nodeRunID, attempt: 1, output: .string("late"))])
                #expect(late[0].accepted == false)
                let done = try await alive.scheduling.complete(scheduler: alive.scheduler, [.init(id: retry.nodeRunID, attempt: 2, output: .string("ok"))])
                #expect(done[0].accepted)
                try await alive.drain()
                #expect(try await alive.store.run(run).status == "succeeded")
                let outcomes = try await conn.query(
                    "SELECT outcome FROM trellis.node_attempts WHERE node_run_id = $1 ORDER BY attempt", [lostClaim.nodeRunID]
                ).rows.map { try $0.decode("outcome", as: String.self) }
                #expect(outcomes == ["lost", "succeeded"])
            }
        }
    }

    @Test func gracefulStopReleasesHeldNodesWithoutSpendingAttempts() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let leaving = try await Driver.make(conn, name: "leaving")
                let staying = try await Driver.make(conn, name: "staying")
                let run = try await leaving.store.start("linear-pipeline", input: "{}", as: "admin").runID
                let held = try #require(try await leaving.claim().first)
                #expect(try await leaving.scheduling.stopScheduler(leaving.scheduler) == 1)
                await #expect(throws: PGError.self) { _ = try await leaving.claim() }
                let again = try #require(try await staying.claim().first)
                #expect(again.nodeRunID == held.nodeRunID)
                try await staying.scheduling.complete(scheduler: staying.scheduler, [.init(id: again.nodeRunID, attempt: again.attempt, output: .null)])
                    .forEach { #expect($0.accepted) }
                try await staying.drain()
                #expect(try await staying.store.run(run).status == "succeeded")
            }
        }
    }
}

@Suite("Cancel, pause and resume")
struct RunControlTests {
    @Test func cancelStopsOpenWorkAndRefusesLateResults() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "admin").runID
                let plan = try #require(try await driver.claim().first)
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: plan.nodeRunID, attempt: 1, output: .object(["topic": .string("t")]))])
                let inFlight = try await driver.claim(max: 1)  // one branch running, two ready
                #expect(inFlight.count == 1)

                #expect(try await driver.store.control(.cancel, run: run, as: "admin", reason: "changed my mind") == "cancelled")
                let final = try await driver.store.run(run)
                #expect(final.status == "cancelled")
                #expect(try final.error?.decode(JSONValue.self)["message"] == .string("changed my mind"))
                let status = try await statuses(driver.store, run)
                #expect(status["plan"] == "succeeded")
                #expect(["search_web", "search_papers", "search_code", "gather", "report"].allSatisfy { status[$0] == "cancelled" })
                let late = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: inFlight[0].nodeRunID, attempt: 1, output: .null)])
                #expect(late[0].accepted == false)
                #expect(try await driver.claim().isEmpty)
                let events = try await driver.store.events(of: run)
                #expect(events.last?.type == "run.finished")
                #expect(try events.last?.data.decode(JSONValue.self)["status"] == .string("cancelled"))

                for operation in RunStore.Control.allCases {
                    let error = await #expect(throws: PGError.self) { try await driver.store.control(operation, run: run, as: "admin") }
                    #expect(error?.sqlState == "TR409")
                    #expect(error?.message.contains("it already cancelled") == true)
                }
            }
        }
    }

    @Test func pauseHoldsReadyWorkAndResumeReleasesIt() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "admin").runID
                let plan = try #require(try await driver.claim().first)
                #expect(try await driver.store.control(.pause, run: run, as: "admin") == "paused")
                // The running node may finish; what it makes due is held, not claimable.
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: plan.nodeRunID, attempt: 1, output: .object(["topic": .string("t")]))])
                #expect(try await driver.claim().isEmpty)
                #expect(try await statuses(driver.store, run)["search_web"] == "held")
                let again = await #expect(throws: PGError.self) { try await driver.store.control(.pause, run: run, as: "admin") }
                #expect(again?.sqlState == "TR409")

                #expect(try await driver.store.control(.resume, run: run, as: "admin") == "running")
                try await driver.drain()
                #expect(try await driver.store.run(run).status == "succeeded")
                let types = try await driver.store.events(of: run).map(\.type)
                #expect(types.contains("run.paused") && types.contains("run.resumed"))
                let notPaused = await #expect(throws: PGError.self) { try await driver.store.control(.resume, run: run, as: "admin") }
                #expect(notPaused?.sqlState == "TR409")
            }
        }
    }

    @Test func controlNeedsTheRunPrivilege() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let store = RunStore(connection: conn)
                try await PrincipalStore(connection: conn).create("viewer", as: "admin")
                try await PrincipalStore(connection: conn).grant("view", on: "linear-pipeline", to: "viewer", as: "admin")
                let run = try await store.start("linear-pipeline", as: "admin").runID
                let denied = await #expect(throws: PGError.self) { try await store.control(.cancel, run: run, as: "viewer") }
                #expect(denied?.sqlState == "42501")
                #expect(try await store.run(run).status == "queued")
                let unknown = await #expect(throws: PGError.self) { try await store.control(.pause, run: UUID(), as: "admin") }
                #expect(unknown?.sqlState == "TR404")
                try await PrincipalStore(connection: conn).grant("run", on: "linear-pipeline", to: "viewer", as: "admin")
                #expect(try await store.control(.cancel, run: run, as: "viewer") == "cancelled")
                #expect(try await store.list(workflow: "linear-pipeline").map(\.status) == ["cancelled"])
            }
        }
    }
}

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

/// Thrown by a test responder to leave a claim unreported (as if the handler were still busy).
struct HandlerFailure: Error {}
