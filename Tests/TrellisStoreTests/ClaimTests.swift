import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// start_run's checks and claim_nodes: pipelined passes, skipping held runs, doorbells, the ready index.
@Suite("Starting and claiming (SQL)")
struct ClaimTests {
    @Test func startRunChecksItsInputs() async throws {
        try await TestDatabase.withSeeded { db, conn in
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
            await Self.expectRefused(cases)
            let runs = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
            #expect(runs == 1)

            // start_run looks up an administrator or owner, enabled, and the latest version
            // at once, and goes through the named checks for anything else: both ways start
            // the same run, and a refusal is the same whichever way it was found.
            try await PrincipalStore(connection: conn).create("carol", as: "admin")
            #expect(try await PrincipalStore(connection: conn).grant("run", on: "linear-pipeline", to: "carol", as: "admin"))
            let granted = try await store.start("linear-pipeline", as: "carol")
            let pinned = try await store.start("linear-pipeline", as: "admin", version: 1)
            for started in [granted, pinned] {
                #expect(started.created && started.status == "queued")
                let row = try await conn.query("""
                    SELECT p.name, v.version FROM trellis.workflow_runs r
                    JOIN trellis.principals p ON p.id = r.started_by JOIN trellis.workflow_versions v ON v.id = r.version_id
                    WHERE r.id = $1
                    """, [started.runID]).single()
                #expect(try row.decode("version", as: Int.self) == 1)
                #expect(try row.decode("name", as: String.self) == (started.runID == granted.runID ? "carol" : "admin"))
            }
            try await conn.execute(script: "UPDATE trellis.principals SET disabled_at = now() WHERE name = 'carol'")
            let refusals: [(() async throws -> Void, String, String)] = [
                ({ _ = try await store.start("linear-pipeline", as: "carol") }, "42501", #"principal "carol" is disabled"#),
                ({ _ = try await store.start("nope", as: "ghost") }, "TR404", #"unknown principal "ghost""#),
            ]
            await Self.expectRefused(refusals)
            let total = try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self)
            #expect(total == 3)
        }
    }

    /// A root and its two dependents.
    static let levels = """
        {"name": "levels", "nodes": [
          {"key": "root", "kind": "tool_call", "handler": "echo"},
          {"key": "left", "kind": "tool_call", "handler": "echo"},
          {"key": "right", "kind": "tool_call", "handler": "echo"}],
         "edges": [{"from": "root", "to": "left"}, {"from": "root", "to": "right"}]}
        """

    /// Each call must fail with its SQLSTATE and a message containing its text.
    static func expectRefused(_ cases: [(() async throws -> Void, String, String)]) async {
        for (call, code, message) in cases {
            let error = await #expect(throws: PGError.self) { try await call() }
            #expect(error?.sqlState == code)
            #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        }
    }

    /// The scheduler's busy pass — report, then claim, in one transaction (pipeline mode) —
    /// takes the dependents its results made ready at once, not one round trip later.
    @Test func aPipelinedPassClaimsTheDependentsItsResultsMadeReady() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.levels, as: "admin")
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
        try await TestDatabase.withSeeded { db, conn in
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

    /// A claim writes its runs' rows and events in the statement that claims: across runs
    /// that start in it and a run already running, each run's log stays contiguous (its
    /// run.started first), its last_seq is its newest event, and each rings one doorbell.
    @Test func aClaimAcrossRunsKeepsEachRunsLogContiguous() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.levels, as: "admin")
                let driver = try await Driver.make(conn)
                let running = try await driver.store.start("levels", as: "admin").runID
                let root = try #require(try await driver.claim().first)
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: root.nodeRunID, attempt: root.attempt, output: .object([:]))])
                let queued = [try await driver.store.start("levels", as: "admin").runID, try await driver.store.start("levels", as: "admin").runID]
                try await db.withConnection { bell in
                    try await bell.listen("trellis_events")
                    let claims = try await driver.claim()
                    #expect(claims.count == 4)
                    #expect(Dictionary(grouping: claims, by: \.runID).mapValues { $0.map(\.nodeKey).sorted() }
                            == [running: ["left", "right"], queued[0]: ["root"], queued[1]: ["root"]])
                    var payloads: Set<String> = []
                    while let note = try await bell.nextNotification(timeout: .milliseconds(300)) { payloads.insert(note.payload) }
                    var newest: Set<String> = []
                    for run in [running] + queued {
                        let events = try await driver.store.events(of: run)
                        let row = try await driver.store.run(run)
                        #expect(events.map(\.seq) == Array(1...Int64(events.count)), "\(run): \(events.map(\.seq))")
                        #expect(row.lastSeq == Int64(events.count))
                        #expect(row.status == "running")
                        newest.insert("\(run.uuidString.lowercased()):\(row.lastSeq)")
                        let types = events.map(\.type)
                        if run == running {
                            #expect(types.suffix(2) == ["node.started", "node.started"])
                            #expect(types.filter { $0 == "run.started" }.count == 1)
                        } else {
                            #expect(types == ["run.queued", "run.started", "node.started"])
                            let started = try events[1].data.decode(JSONValue.self)
                            #expect(started["workflow"] == .string("levels"))
                            #expect(started["version"] == .number(1))
                        }
                    }
                    #expect(payloads == newest)
                    try await driver.complete(claims)
                }
                #expect(try await driver.drain().sorted() == ["left", "left", "right", "right"])
                for run in [running] + queued {
                    let events = try await driver.store.events(of: run)
                    #expect(events.map(\.seq) == Array(1...Int64(events.count)))
                    #expect(try await driver.store.run(run).status == "succeeded")
                }
            }
        }
    }

    @Test func aBatchRingsOneDoorbellPerRunWithItsNewestSeq() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "admin").runID
            let root = try await driver.claim()
            try await driver.complete(root)
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
                try await driver.complete(branches)
                payloads = []
                while let note = try await bell.nextNotification(timeout: .milliseconds(300)) { payloads.append(note.payload) }
                let after = try await driver.store.run(run).lastSeq
                #expect(after > lastSeq + 5)
                #expect(payloads.last == "\(run.uuidString.lowercased()):\(after)")
                #expect(payloads.count <= 2, "one doorbell per batch of events (settling, then advancing the join): \(payloads)")
            }
        }
    }

    @Test func claimUsesTheReadyIndexOnALargeHistory() async throws {
        try await TestDatabase.withSeeded { db, conn in
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
