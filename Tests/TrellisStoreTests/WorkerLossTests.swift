import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// A one-node workflow with no retries: any failure of its node fails the run.
private let oneShot = #"{"name": "one-shot", "nodes": [{"key": "only", "kind": "tool_call", "handler": "echo"}]}"#

private func expireLease(_ conn: PGConnection, _ nodeRunID: Int64) async throws {
    try await conn.query("UPDATE trellis.node_runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [nodeRunID])
}

private func sqlState(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch let error as PGError {
        return error.sqlState
    } catch {
        return "\(error)"
    }
}

@Suite("Worker loss and scheduler identity")
struct WorkerLossTests {
    @Test func lostLeasesRequeueWithoutSpendingRetriesUpToTheBound() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: oneShot, as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("one-shot", as: "admin").runID
                // Three lost leases re-queue the node at once; none fails the run.
                for loss in 1...3 {
                    let claim = try #require(try await driver.claim().first)
                    #expect(claim.attempt == loss)
                    try await expireLease(conn, claim.nodeRunID)
                    #expect(try await driver.scheduling.reclaimExpired() == 1)
                    let row = try await conn.query(
                        "SELECT status, lost_leases, max_attempts, ready_at <= now() AS due FROM trellis.node_runs WHERE id = $1", [claim.nodeRunID]
                    ).single()
                    #expect(try row.decode("status", as: String.self) == "ready")
                    #expect(try row.decode("lost_leases", as: Int.self) == loss)
                    #expect(try row.decode("max_attempts", as: Int.self) == 1 + loss)
                    #expect(try row.decode("due", as: Bool.self))
                    #expect(try await driver.store.run(run).status == "running")
                }
                // The fourth loss is past trellis.max_lost_leases (3): the node fails with lease_expired.
                let last = try #require(try await driver.claim().first)
                try await expireLease(conn, last.nodeRunID)
                #expect(try await driver.scheduling.reclaimExpired() == 1)
                let finished = try await driver.store.run(run)
                #expect(finished.status == "failed")
                let error = try #require(try finished.error?.decode(JSONValue.self))
                #expect(error["code"] == .string("lease_expired"))
                let outcomes = try await conn.query(
                    "SELECT outcome FROM trellis.node_attempts WHERE node_run_id = $1 ORDER BY attempt", [last.nodeRunID]
                ).rows.map { try $0.decode("outcome", as: String.self) }
                #expect(outcomes == ["lost", "lost", "lost", "lost"])
                let requeues = try await driver.store.events(of: run).filter {
                    $0.type == "node.retry_scheduled" && (try? $0.data.decode(JSONValue.self))?["lost_lease"] == .bool(true)
                }
                #expect(requeues.count == 3)
            }
        }
    }

    @Test func theBoundIsASetting() async throws {
        try await withOneShot("SET trellis.max_lost_leases = 0") { conn, driver in
            let run = try await driver.store.start("one-shot", as: "admin").runID
            let claim = try #require(try await driver.claim().first)
            try await expireLease(conn, claim.nodeRunID)
            #expect(try await driver.scheduling.reclaimExpired() == 1)
            #expect(try await driver.store.run(run).status == "failed")
        }
    }

    @Test func aHeartbeatMustPresentTheCurrentAttempt() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: oneShot, as: "admin")
                let driver = try await Driver.make(conn)
                _ = try await driver.store.start("one-shot", as: "admin")
                let claim = try #require(try await driver.claim().first)
                let stale = try await driver.scheduling.heartbeat(scheduler: driver.scheduler, holding: [.init(claim.nodeRunID, attempt: claim.attempt + 1)])
                #expect(stale == [claim.nodeRunID])
                let held = try await driver.scheduling.heartbeat(scheduler: driver.scheduler, holding: [.init(claim.nodeRunID, attempt: claim.attempt)])
                #expect(held.isEmpty)
            }
        }
    }

    @Test func aLeaseHasAnUpperBound() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let driver = try await Driver.make(conn)
                #expect(await sqlState { _ = try await driver.scheduling.claim(scheduler: driver.scheduler, handlers: ["echo"], max: 1, leaseSeconds: 601) } == "22023")
                #expect(await sqlState { _ = try await driver.scheduling.heartbeat(scheduler: driver.scheduler, holding: [], leaseSeconds: 3600) } == "22023")
                #expect(await sqlState { _ = try await driver.scheduling.claim(scheduler: driver.scheduler, handlers: ["echo"], max: 1, leaseSeconds: 600) } == nil)
                #expect(await sqlState { _ = try await driver.scheduling.claim(scheduler: driver.scheduler, handlers: ["echo"], max: 1, leaseSeconds: 0) } == "22023")
                // The bound is a setting: lowered, a lease the default allows is refused and
                // the message names the setting; raised, a longer one is taken.
                try await conn.execute(script: "SET trellis.max_lease_seconds = 60")
                let lowered = await #expect(throws: PGError.self) {
                    _ = try await driver.scheduling.claim(scheduler: driver.scheduler, handlers: ["echo"], max: 1, leaseSeconds: 120)
                }
                #expect(lowered?.sqlState == "22023")
                #expect(lowered?.message.contains("1 second to 60 seconds (trellis.max_lease_seconds)") == true, "\(String(describing: lowered))")
                try await conn.execute(script: "SET trellis.max_lease_seconds = 900")
                #expect(await sqlState { _ = try await driver.scheduling.claim(scheduler: driver.scheduler, handlers: ["echo"], max: 1, leaseSeconds: 700) } == nil)
                #expect(await sqlState { _ = try await driver.scheduling.claim(scheduler: driver.scheduler, handlers: ["echo"], max: 1, leaseSeconds: 901) } == "22023")
            }
        }
    }

    /// One worker login cannot claim for, report for, renew or stop another login's scheduler.
    @Test func aSchedulerIsBoundToItsLogin() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: oneShot, as: "admin")
                _ = try await RunStore(connection: conn).start("one-shot", as: "admin")
            }
            try await db.withLogin(inRole: "trellis_scheduler") { ownerURL in
                try await db.withLogin(inRole: "trellis_scheduler") { intruderURL in
                    try await PGConnection.withConnection(ownerURL) { ownerConn in
                        let owner = SchedulerStore(connection: ownerConn)
                        let id = try await owner.registerScheduler(name: "owner", handlers: ["echo"])
                        let claim = try #require(try await owner.claim(scheduler: id, handlers: ["echo"], max: 1).first)
                        try await PGConnection.withConnection(intruderURL) { intruderConn in
                            let intruder = SchedulerStore(connection: intruderConn)
                            #expect(await sqlState { _ = try await intruder.claim(scheduler: id, handlers: ["echo"], max: 1) } == "42501")
                            #expect(await sqlState { _ = try await intruder.heartbeat(scheduler: id, holding: [.init(claim.nodeRunID, attempt: claim.attempt)]) } == "42501")
                            #expect(await sqlState { _ = try await intruder.complete(scheduler: id, [.init(id: claim.nodeRunID, attempt: claim.attempt, output: .null)]) } == "42501")
                            #expect(await sqlState {
                                _ = try await intruder.fail(scheduler: id, [.init(id: claim.nodeRunID, attempt: claim.attempt, error: .init(code: "x", message: "x"))])
                            } == "42501")
                            #expect(await sqlState { _ = try await intruder.reportProgress(scheduler: id, [.progress(id: claim.nodeRunID, attempt: claim.attempt, percent: 1, message: "x")]) } == "42501")
                            #expect(await sqlState { try await intruder.stopScheduler(id) } == "42501")
                        }
                        // Nothing the intruder tried landed: the owner completes its node.
                        let reports = try await owner.complete(scheduler: id, [.init(id: claim.nodeRunID, attempt: claim.attempt, output: .string("mine"))])
                        #expect(reports.map(\.accepted) == [true])
                        #expect(try await owner.stopScheduler(id) == 0)
                    }
                }
            }
        }
    }
}

@Suite("Size caps and bounded definition values")
struct SizeCapTests {
    @Test func anOutputOverTheCapIsRefusedBeforeAnythingIsWritten() async throws {
        try await withOneShot("SET trellis.max_output_bytes = 1000") { conn, driver in
            let run = try await driver.store.start("one-shot", as: "admin").runID
            let claim = try #require(try await driver.claim().first)
            let big = JSONValue.string(String(repeating: "x", count: 5_000))
            let before = try await driver.store.events(of: run).map(\.type)
            let error = await #expect(throws: PGError.self) {
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: claim.attempt, output: big)])
            }
            #expect(error?.sqlState == "54000")
            #expect(error?.message.contains("node run \(claim.nodeRunID)") == true, "\(String(describing: error))")
            #expect(try await driver.store.nodes(of: run).first?.status == "running")
            #expect(try await driver.store.events(of: run).map(\.type) == before)
        }
    }

    /// Outputs are measured one by one: a batch larger than the cap whose outputs each fit
    /// is taken whole, and one output over it is refused whatever the batch's size.
    @Test func theCapIsPerOutputNotPerBatch() async throws {
        try await withOneShot("SET trellis.max_output_bytes = 1000") { conn, driver in
            let runs = [try await driver.store.start("one-shot", as: "admin").runID, try await driver.store.start("one-shot", as: "admin").runID]
            let claims = try await driver.claim()
            #expect(claims.count == 2)
            let fits = JSONValue.string(String(repeating: "x", count: 900))
            let reports = try await driver.scheduling.complete(scheduler: driver.scheduler, claims.map { .init(id: $0.nodeRunID, attempt: $0.attempt, output: fits) })
            #expect(reports.map(\.accepted) == [true, true])
            for run in runs { #expect(try await driver.store.run(run).status == "succeeded") }

            let next = try await driver.store.start("one-shot", as: "admin").runID
            let claim = try #require(try await driver.claim().first)
            let over = JSONValue.string(String(repeating: "y", count: 1_000))
            let error = await #expect(throws: PGError.self) {
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: claim.nodeRunID, attempt: claim.attempt, output: over)])
            }
            #expect(error?.sqlState == "54000")
            #expect(try await driver.store.nodes(of: next).first?.status == "running")
        }
    }

    @Test func aRunInputOverTheCapIsRefused() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: oneShot, as: "admin")
                try await conn.execute(script: "SET trellis.max_input_bytes = 1000")
                let input = #"{"blob": "\#(String(repeating: "y", count: 5_000))"}"#
                #expect(await sqlState { _ = try await RunStore(connection: conn).start("one-shot", input: input, as: "admin") } == "54000")
                let count = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
                #expect(count == 0)
            }
        }
    }

    @Test func aParallelNodeOverTheItemCapFailsThatNode() async throws {
        try await TestDatabase.withSeeded { db, conn in
            try await conn.execute(script: "SET trellis.max_parallel_items = 2")
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("parallel-items", input: #"{"items": [1, 2, 3]}"#, as: "admin").runID
            try await driver.drain()
            let process = try #require(try await driver.store.nodes(of: run).first { $0.key == "process" })
            #expect(process.status == "failed")
            #expect(try process.error?.decode(JSONValue.self)["code"] == .string("too_many_items"))
            #expect(try await driver.store.run(run).status == "failed")
        }
    }

    @Test(arguments: [
        (#"{"key": "p", "kind": "parallel", "handler": "echo", "items": "$input.xs", "concurrency": 1e12}"#, "TR113"),
        (#"{"key": "g", "kind": "human_gate", "approvals": {"required": 1e12}}"#, "TR113"),
        (#"{"key": "g", "kind": "human_gate", "approvals": {"required": 1e12, "approvers": ["admin"]}}"#, "TR113"),
        (#"{"key": "g", "kind": "human_gate", "approvals": {"expires_in": "999999999999d"}}"#, "TR113"),
        (#"{"key": "t", "kind": "tool_call", "handler": "echo", "timeout": "99999d"}"#, "TR109"),
    ])
    func hugeDefinitionNumbersAreRefusedAtPublish(node: String, code: String) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = #"{"name": "huge", "nodes": [\#(node)]}"#
                #expect(await sqlState { _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin") } == code)
            }
        }
    }

    @Test func aJoinWithAHugeNIsRefusedAtPublish() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "huge-n", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"},
                     {"key": "j", "kind": "join", "mode": "n", "n": 1e12}], "edges": [{"from": "a", "to": "j"}]}
                    """
                #expect(await sqlState { _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin") } == "TR112")
            }
        }
    }

    @Test func anOversizedDefinitionIsRefusedBeforeItIsWalked() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let nodes = (0...1_000).map { #"{"key": "n\#($0)", "kind": "tool_call", "handler": "echo"}"# }.joined(separator: ",")
                let definition = #"{"name": "too-big", "nodes": [\#(nodes)]}"#
                #expect(await sqlState { _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin") } == "TR114")
                let count = try await conn.query("SELECT count(*) AS n FROM trellis.workflows").single().decode("n", as: Int.self)
                #expect(count == 0)
            }
        }
    }
}

@Suite("Pause and resume reach gates and parallel children")
struct PauseTests {
    @Test func aRunPausedAtAGateResumesToWaiting() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("human-approval", input: #"{"version": "1", "notes": "n"}"#, as: "admin").runID
            try await driver.drain()
            #expect(try await driver.store.run(run).status == "waiting")
            #expect(try await driver.store.control(.pause, run: run, as: "admin") == "paused")
            #expect(try await driver.store.control(.resume, run: run, as: "admin") == "waiting")
            #expect(try await driver.store.run(run).status == "waiting")
        }
    }

    @Test func parallelChildrenCreatedDuringAPauseAreHeld() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("parallel-items", input: #"{"items": [1, 2, 3]}"#, as: "admin").runID
            let list = try #require(try await driver.claim().first)
            #expect(try await driver.store.control(.pause, run: run, as: "admin") == "paused")
            // The running node finishes during the pause; the children it makes due are held.
            _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: list.nodeRunID, attempt: list.attempt, output: try driver.echo(list))])
            let children = try await conn.query(
                "SELECT status FROM trellis.node_runs WHERE run_id = $1::uuid AND parent_id IS NOT NULL ORDER BY item_index", [run]
            ).rows.map { try $0.decode("status", as: String.self) }
            #expect(children == ["held", "held", "held"])
            #expect(try await driver.claim().isEmpty)
            _ = try await driver.store.control(.resume, run: run, as: "admin")
            try await driver.drain()
            #expect(try await driver.store.run(run).status == "succeeded")
        }
    }
}

/// A migrated database with the one-shot workflow, a connection with `setting` applied
/// (`SET trellis.… = …`) and a driver registered on it.
func withOneShot(_ setting: String, _ body: (PGConnection, Driver) async throws -> Void) async throws {
    try await TestDatabase.withMigrated { db in
        try await db.withConnection { conn in
            _ = try await WorkflowStore(connection: conn).publish(definition: oneShot, as: "admin")
            try await conn.execute(script: setting)
            try await body(conn, try await Driver.make(conn))
        }
    }
}
