import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// complete_nodes, fail_nodes and report_progress: retries, on_error, fencing, progress, large outputs.
@Suite("Reporting results (SQL)")
struct ResultReportingTests {
    @Test func retriesBackOffThenFailTheRun() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "flaky", "nodes": [
                      {"key": "call", "kind": "tool_call", "handler": "http",
                       "retry": {"max_attempts": 3, "initial_delay": "10m", "multiplier": 3, "max_delay": "20m", "jitter": false}},
                      {"key": "other", "kind": "tool_call", "handler": "echo"},
                      {"key": "after", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "call", "to": "after"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("flaky", as: "admin").runID
                // Minutes, not seconds: "not claimable before ready_at" must hold however long
                // a loaded CI machine stalls between the report and the next claim (a 10 s
                // backoff once came due there).
                var expectedDelays: [Double] = [600, 1200]  // 10 min, then 10 × 3 = 30 capped at 20 min
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
        try await TestDatabase.withSeeded { db, conn in
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

    @Test func progressIsFencedValidatedAndLogged() async throws {
        try await TestDatabase.withSeeded { db, conn in
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

    @Test func largeOutputsAreTruncatedInTheEventButKeptWhole() async throws {
        try await TestDatabase.withSeeded { db, conn in
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
