import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// A handler asking a person (fail_nodes with an input_request): the node waits on an
/// approval of kind input; approved → ready again with the answer in `resume`; rejected,
/// expired, cancelled, paused — each checked from the database. Asking does not spend the
/// retry budget, and a stale or foreign request is refused like any result.
@Suite("Questions from handlers (SQL)")
struct InputApprovalTests {
    static let definition = """
        {"name": "asking", "nodes": [
          {"key": "ask", "kind": "agent_call", "handler": "echo", "retry": {"max_attempts": 2, "initial_delay": "1ms", "jitter": false},
           "config": {"approvals": {"expires_in": "1h", "on_expiry": "approve"}}},
          {"key": "after", "kind": "tool_call", "handler": "echo", "input": {"answer": "$ask.answer"}}],
         "edges": [{"from": "ask", "to": "after"}]}
        """

    /// Starts a run and parks its first node on a question; returns the run, the claim and the approval.
    static func ask(_ conn: PGConnection, _ driver: Driver) async throws -> (UUID, SchedulerStore.Claim, UUID) {
        let run = try await driver.store.start("asking", as: "admin").runID
        let claim = try #require(try await driver.claim().first { $0.runID == run })
        let reports = try await driver.scheduling.fail(scheduler: driver.scheduler, [.init(
            id: claim.nodeRunID, attempt: claim.attempt, error: .init(code: "input_required", message: "Which colour?"), retryable: false,
            inputRequest: .init(prompt: "Which colour?", resume: .object(["task_id": .string("t-1")])))])
        #expect(reports.map(\.outcome) == ["waiting"])
        let approval = try #require(try await ApprovalStore(connection: conn).list(run: run).first)
        #expect(approval.kind == "input" && approval.prompt == "Which colour?" && approval.expiresAt != nil)
        return (run, claim, approval.id)
    }

    static func node(_ conn: PGConnection, _ run: UUID, _ key: String = "ask") async throws -> PGRow {
        try await conn.query("""
            SELECT status, attempt, resume, error, (SELECT array_agg(outcome ORDER BY attempt) FROM trellis.node_attempts a WHERE a.node_run_id = n.id)::text AS outcomes
            FROM trellis.node_runs n WHERE n.run_id = $1::uuid AND n.node_key = $2
            """, [run, key]).single()
    }

    @Test func anAnswerMakesTheNodeReadyWithItAndTheRetryBudgetIsIntact() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition, as: "admin")
                let driver = try await Driver.make(conn)
                let (run, claim, approval) = try await Self.ask(conn, driver)
                #expect(try await driver.store.run(run).status == "waiting")
                let waiting = try await Self.node(conn, run)
                #expect(try waiting.decode("status", as: String.self) == "waiting" && waiting.decode("outcomes", as: String.self) == "{input_required}")
                // A second report for the parked attempt is stale.
                let again = try await driver.scheduling.fail(scheduler: driver.scheduler, [.init(
                    id: claim.nodeRunID, attempt: claim.attempt, error: .init(code: "x", message: "late"))])
                #expect(again.map(\.accepted) == [false])
                // Nothing to claim while it waits.
                #expect(try await driver.claim().isEmpty)

                // Approving a question without an answer is refused, and changes nothing.
                for empty in [nil, "", "   "] as [String?] {
                    let refused = await #expect(throws: PGError.self) {
                        try await ApprovalStore(connection: conn).decide(approval, .approve, as: "admin", comment: empty)
                    }
                    #expect(refused?.sqlState == "22023" && refused?.message.contains("needs the answer as the comment") == true)
                }
                #expect(try await ApprovalStore(connection: conn).list(run: run).first?.status == "pending")
                // The starter answers (allowed for questions); the node is claimable with the answer.
                #expect(try await ApprovalStore(connection: conn).decide(approval, .approve, as: "admin", comment: "blue") == "approved")
                #expect(try await driver.store.run(run).status == "running")
                let resumed = try #require(try await driver.claim().first)
                #expect(resumed.attempt == 2)
                let resume = try #require(try resumed.resume?.decode(JSONValue.self))
                #expect(resume == .object(["task_id": .string("t-1"), "answer": .string("blue"), "answered_by": .string("admin")]))
                // A retryable failure of the resumed attempt still gets the node's second try:
                // the attempt that asked did not count.
                let failed = try await driver.scheduling.fail(scheduler: driver.scheduler, [.init(
                    id: resumed.nodeRunID, attempt: resumed.attempt, error: .init(code: "flaky", message: "once"))])
                #expect(failed.map(\.outcome) == ["retry_scheduled"])
                try await Task.sleep(for: .milliseconds(20))
                let third = try #require(try await driver.claim().first)
                let thirdResume = try third.resume?.decode(JSONValue.self)
                #expect(third.attempt == 3 && thirdResume?["answer"] == .string("blue"))
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: third.nodeRunID, attempt: third.attempt,
                                                                                           output: .object(["answer": .string("blue")]))])
                try await driver.drain()
                #expect(try await driver.store.run(run).status == "succeeded")
                #expect(try await Self.node(conn, run).decode("outcomes", as: String.self) == "{input_required,failed,succeeded}")
                let events = try await driver.store.events(of: run).map(\.type)
                #expect(events.contains("approval.requested") && events.contains("approval.decided") && events.contains("run.waiting"))
                let waitingEvent = try #require(try await driver.store.events(of: run).first { $0.type == "run.waiting" })
                #expect(try waitingEvent.data.decode(JSONValue.self)["reason"] == .string("input"))
            }
        }
    }

    @Test func rejectedExpiredCancelledAndPausedQuestions() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition, as: "admin")
                let driver = try await Driver.make(conn)
                let approvals = ApprovalStore(connection: conn)

                // Rejected: the node fails `rejected` without another attempt; the run fails.
                let (rejected, _, first) = try await Self.ask(conn, driver)
                #expect(try await approvals.decide(first, .reject, as: "admin", comment: "no") == "rejected")
                let node = try await Self.node(conn, rejected)
                #expect(try node.decode("status", as: String.self) == "failed" && node.decode("attempt", as: Int.self) == 1)
                #expect(try node.decode("error", as: PGJSON.self).decode(JSONValue.self)["code"] == .string("rejected"))
                #expect(try await driver.store.run(rejected).status == "failed")

                // Expired: the same with code `expired` — a question expires as a refusal even
                // when the node's approvals say on_expiry: approve (there is no answer to give).
                let (expired, _, second) = try await Self.ask(conn, driver)
                try await conn.query("UPDATE trellis.approvals SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", [second])
                #expect(try await approvals.expireDue() == 1)
                #expect(try await Self.node(conn, expired).decode("error", as: PGJSON.self).decode(JSONValue.self)["code"] == .string("expired"))

                // Cancelled while it waits: the question closes, nothing is claimable.
                let (cancelled, _, third) = try await Self.ask(conn, driver)
                _ = try await driver.store.control(.cancel, run: cancelled, as: "admin")
                #expect(try await approvals.list(status: nil, run: cancelled).first { $0.id == third }?.status == "expired")
                #expect(try await Self.node(conn, cancelled).decode("status", as: String.self) == "cancelled")
                let late = await #expect(throws: PGError.self) { try await approvals.decide(third, .approve, as: "admin", comment: "x") }
                #expect(late?.sqlState == "TR409")

                // Answered while the run is paused: held until it resumes.
                let (paused, _, fourth) = try await Self.ask(conn, driver)
                _ = try await driver.store.control(.pause, run: paused, as: "admin")
                #expect(try await approvals.decide(fourth, .approve, as: "admin", comment: "green") == "approved")
                #expect(try await Self.node(conn, paused).decode("status", as: String.self) == "held")
                #expect(try await driver.claim().isEmpty)
                _ = try await driver.store.control(.resume, run: paused, as: "admin")
                let resumed = try #require(try await driver.claim().first)
                let pausedResume = try resumed.resume?.decode(JSONValue.self)
                #expect(resumed.runID == paused && pausedResume?["answer"] == .string("green"))
            }
        }
    }
}
