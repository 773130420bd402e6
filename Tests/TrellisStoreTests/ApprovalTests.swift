import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// A gate between two echo steps, with the given approval settings.
private func gatedWorkflow(_ approvals: String, onError: String = "fail") -> String {
    """
    {"name": "gated", "nodes": [
      {"key": "draft", "kind": "tool_call", "handler": "echo"},
      {"key": "review", "kind": "human_gate", "prompt": "Ship it?", "approvals": \(approvals), "on_error": "\(onError)"},
      {"key": "ship", "kind": "tool_call", "handler": "echo", "input": {"ok": "$review.approved"}}],
     "edges": [{"from": "draft", "to": "review"}, {"from": "review", "to": "ship"}]}
    """
}

/// Principals alice (starts runs), bob and carol (approvers), eve (no privileges).
private func setUp(_ conn: PGConnection, approvals: String, onError: String = "fail") async throws -> (Driver, UUID, UUID) {
    let principals = PrincipalStore(connection: conn)
    for name in ["alice", "bob", "carol", "eve"] { try await principals.create(name, as: "admin") }
    _ = try await WorkflowStore(connection: conn).publish(definition: gatedWorkflow(approvals, onError: onError), as: "admin")
    try await principals.grant("run", on: "gated", to: "alice", as: "admin")
    for name in ["alice", "bob", "carol"] { try await principals.grant("approve", on: "gated", to: name, as: "admin") }
    let driver = try await Driver.make(conn)
    let run = try await driver.store.start("gated", input: #"{"v": 1}"#, as: "alice").runID
    try await driver.drain()
    let approval = try #require(try await ApprovalStore(connection: conn).list(run: run).first)
    return (driver, run, approval.id)
}

@Suite("Human gates and approvals")
struct ApprovalTests {
    @Test func approvalOpensWaitsAndPasses() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let (driver, run, approval) = try await setUp(conn, approvals: #"{"required": 1}"#)
                #expect(try await driver.store.run(run).status == "waiting")
                #expect(try await statuses(driver.store, run)["review"] == "waiting")
                #expect(try await driver.claim().isEmpty)
                #expect(try await driver.scheduling.reclaimExpired() == 0)  // a gate is not dead work

                let approvals = ApprovalStore(connection: conn)
                let selfApproval = await #expect(throws: PGError.self) { try await approvals.decide(approval, .approve, as: "alice") }
                #expect(selfApproval?.sqlState == "42501")
                #expect(selfApproval?.message.contains("started run") == true)
                let outsider = await #expect(throws: PGError.self) { try await approvals.decide(approval, .approve, as: "eve") }
                #expect(outsider?.sqlState == "42501")
                let nonsense = await #expect(throws: PGError.self) { try await approvals.decide(approval, .init(rawValue: "approve")!, as: "ghost") }
                #expect(nonsense?.sqlState == "TR404")

                #expect(try await approvals.decide(approval, .approve, as: "bob", comment: "looks good") == "approved")
                #expect(try await driver.store.run(run).status == "running")
                #expect(try await driver.drain() == ["ship"])
                let final = try await driver.store.run(run)
                #expect(final.status == "succeeded")
                #expect(try final.output?.decode(JSONValue.self)["ship"]?["ok"] == .bool(true))
                let again = await #expect(throws: PGError.self) { try await approvals.decide(approval, .approve, as: "carol") }
                #expect(again?.sqlState == "TR409")
                let types = try await driver.store.events(of: run).map(\.type)
                #expect(types.contains("approval.requested") && types.contains("run.waiting") && types.contains("approval.decided"))
                let decided = try #require(try await approvals.list(status: "approved", run: run).first)
                #expect(decided.decidedBy == "bob")
                #expect(decided.comment == "looks good")
            }
        }
    }

    @Test func twoOfThreeListedApproversAndOneVoteEach() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let (driver, run, approval) = try await setUp(conn, approvals: #"{"required": 2, "approvers": ["bob", "carol", "admin"]}"#)
                let approvals = ApprovalStore(connection: conn)
                #expect(try await approvals.decide(approval, .approve, as: "bob") == "pending")
                let twice = await #expect(throws: PGError.self) { try await approvals.decide(approval, .approve, as: "bob") }
                #expect(twice?.sqlState == "TR409")
                try await PrincipalStore(connection: conn).create("dave", as: "admin")
                try await PrincipalStore(connection: conn).grant("approve", on: "gated", to: "dave", as: "admin")
                let unlisted = await #expect(throws: PGError.self) { try await approvals.decide(approval, .approve, as: "dave") }
                #expect(unlisted?.message.contains("is not among the approvers") == true)
                #expect(try await driver.store.run(run).status == "waiting")
                #expect(try await approvals.decide(approval, .approve, as: "carol") == "approved")
                try await driver.drain()
                #expect(try await driver.store.run(run).status == "succeeded")
            }
        }
    }

    @Test func rejectionFailsTheGateAndItsOnErrorApplies() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let (driver, run, approval) = try await setUp(conn, approvals: "{}")
                #expect(try await ApprovalStore(connection: conn).decide(approval, .reject, as: "bob", comment: "not yet") == "rejected")
                let final = try await driver.store.run(run)
                #expect(final.status == "failed")
                #expect(try final.error?.decode(JSONValue.self)["message"] == .string("rejected: not yet"))
                #expect(try await statuses(driver.store, run)["ship"] == "cancelled")
                let late = await #expect(throws: PGError.self) { try await ApprovalStore(connection: conn).decide(approval, .approve, as: "carol") }
                #expect(late?.sqlState == "TR409")
            }
        }
    }

    @Test(arguments: [("reject", "failed", "expired"), ("approve", "succeeded", "approved")])
    func expiryAppliesItsOutcome(outcome: String, runStatus: String, approvalStatus: String) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let (driver, run, approval) = try await setUp(conn, approvals: #"{"expires_in": "1h", "on_expiry": "\#(outcome)"}"#)
                let approvals = ApprovalStore(connection: conn)
                #expect(try await approvals.expireDue() == 0)
                try await conn.query("UPDATE trellis.approvals SET expires_at = now() - interval '1 second' WHERE id = $1", [approval])
                #expect(try await approvals.expireDue() == 1)
                try await driver.drain()
                #expect(try await driver.store.run(run).status == runStatus)
                #expect(try await approvals.list(status: nil, run: run).first?.status == approvalStatus)
            }
        }
    }

    @Test func cancellingAWaitingRunClosesItsApproval() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let (driver, run, approval) = try await setUp(conn, approvals: "{}")
                #expect(try await driver.store.control(.cancel, run: run, as: "alice") == "cancelled")
                #expect(try await ApprovalStore(connection: conn).list(status: nil, run: run).first?.status == "expired")
                let error = await #expect(throws: PGError.self) { try await ApprovalStore(connection: conn).decide(approval, .approve, as: "bob") }
                #expect(error?.sqlState == "TR409")
            }
        }
    }
}
