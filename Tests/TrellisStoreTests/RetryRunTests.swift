import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// trellis.retry_run: a finished run again, keeping what succeeded (from_failed) or not (all).
@Suite("Re-running a finished run")
struct RetryRunTests {
    /// prep → p1…p8 in parallel → merge; every node echoes, p5 fails on demand.
    static let fanOut = """
        {"name": "fan-retry", "nodes": [
          {"key": "prep", "kind": "tool_call", "handler": "echo", "input": {"n": "$input.n"}},
          \((1...8).map { #"{"key": "p\#($0)", "kind": "tool_call", "handler": "echo", "input": {"i": \#($0), "n": "$prep.n"}}"# }.joined(separator: ", ")),
          {"key": "merge", "kind": "tool_call", "handler": "echo",
           "input": {\((1...8).map { #""p\#($0)": "$p\#($0).i""# }.joined(separator: ", "))}}],
         "edges": [\((1...8).map { #"{"from": "prep", "to": "p\#($0)"}, {"from": "p\#($0)", "to": "merge"}"# }.joined(separator: ", "))]}
        """

    /// Drains everything; nodes named in `failing` are reported failed (not retryable).
    static func drain(_ driver: Driver, failing: Set<String> = []) async throws -> [String] {
        var ran: [String] = []
        for _ in 0..<20 {
            let claims = try await driver.claim()
            if claims.isEmpty { break }
            ran += claims.map(\.nodeKey)
            let (bad, good) = (claims.filter { failing.contains($0.nodeKey) }, claims.filter { !failing.contains($0.nodeKey) })
            if !good.isEmpty {
                _ = try await driver.scheduling.complete(scheduler: driver.scheduler, good.map {
                    .init(id: $0.nodeRunID, attempt: $0.attempt, output: try driver.echo($0))
                })
            }
            if !bad.isEmpty {
                _ = try await driver.scheduling.fail(scheduler: driver.scheduler, bad.map {
                    .init(id: $0.nodeRunID, attempt: $0.attempt, error: .init(code: "boom", message: "\($0.nodeKey) failed"), retryable: false)
                })
            }
        }
        return ran.sorted()
    }

    static func output(_ conn: PGConnection, _ run: UUID) async throws -> String {
        try await conn.query("SELECT output::text AS o FROM trellis.workflow_runs WHERE id = $1", [run]).single().decode("o")
    }

    /// A migrated database with the fan-out workflow published and a scheduler registered.
    static func withFanOut(_ body: (PGConnection, Driver) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.fanOut, as: "admin")
                try await body(conn, try await Driver.make(conn))
            }
        }
    }

    @Test func onlyTheFailedNodeAndItsDependentsRunAgainWithTheSameOutput() async throws {
        try await Self.withFanOut { conn, driver in
            // An undisturbed run, for the output to compare with.
            let clean = try await driver.store.start("fan-retry", input: #"{"n": 7}"#, as: "admin").runID
            #expect(try await Self.drain(driver).count == 10)
            #expect(try await driver.store.run(clean).status == "succeeded")

            let failed = try await driver.store.start("fan-retry", input: #"{"n": 7}"#, as: "admin").runID
            _ = try await Self.drain(driver, failing: ["p5"])
            #expect(try await driver.store.run(failed).status == "failed")
            #expect(try await statuses(driver.store, failed)["merge"] == "cancelled", "the failure ended the run before merge")

            let retry = try await driver.store.retry(failed, as: "admin")
            #expect(retry.reused == 8, "prep and seven parallel nodes kept")
            #expect(retry.status == "queued")
            #expect(try await Self.drain(driver) == ["merge", "p5"], "only the failed node and its dependent ran")
            #expect(try await driver.store.run(retry.id).status == "succeeded")
            #expect(try await Self.output(conn, retry.id) == Self.output(conn, clean))

            // Kept nodes: no attempt, no cost, the node run they came from, and their event says so.
            let kept = try await conn.query("""
                SELECT count(*) FILTER (WHERE n.reused_from = s.id) AS linked,
                       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM trellis.node_attempts a WHERE a.node_run_id = n.id)) AS attempted
                FROM trellis.node_runs n JOIN trellis.node_runs s ON s.run_id = $2 AND s.node_key = n.node_key
                WHERE n.run_id = $1 AND n.reused_from IS NOT NULL
                """, [retry.id, failed]).single()
            #expect(try kept.decode("linked", as: Int.self) == 8)
            #expect(try kept.decode("attempted", as: Int.self) == 0)
            let events = try await driver.store.events(of: retry.id)
            #expect(events.filter { $0.type == "node.finished" && $0.data.text.contains("reused_from") }.count == 8)
            #expect(events.first?.type == "run.queued" && events.first?.data.text.contains(failed.uuidString.lowercased()) == true)
            #expect(events.last?.type == "run.finished")
            let seqs = events.map(\.seq)
            #expect(seqs == Array(1...Int64(seqs.count)), "gap-free")
        }
    }

    @Test func aRetryOfARetryChainsToTheFirstRun() async throws {
        try await Self.withFanOut { conn, driver in
            let first = try await driver.store.start("fan-retry", input: #"{"n": 1}"#, as: "admin").runID
            _ = try await Self.drain(driver, failing: ["p2", "p7"])
            let second = try await driver.store.retry(first, as: "admin")
            #expect(second.reused == 7)
            #expect(try await Self.drain(driver, failing: ["p7"]) == ["p2", "p7"])
            #expect(try await driver.store.run(second.id).status == "failed")
            let third = try await driver.store.retry(second.id, as: "admin")
            #expect(third.reused == 8)
            #expect(try await Self.drain(driver) == ["merge", "p7"])
            #expect(try await driver.store.run(third.id).status == "succeeded")

            let chain = try await conn.query("""
                SELECT run_id, retry_of, retry_root FROM trellis.run_history WHERE retry_root = $1 OR run_id = $1 ORDER BY created_at
                """, [first]).rows
            #expect(try chain.map { try $0.decode("run_id", as: UUID.self) } == [first, second.id, third.id])
            #expect(try chain.map { try $0.decodeIfPresent("retry_of", as: UUID.self) } == [nil, first, second.id])
            #expect(try chain.map { try $0.decodeIfPresent("retry_root", as: UUID.self) } == [nil, first, first])
            // A chain counts once, by its last run.
            let outcome = try await conn.query("""
                SELECT count(*) AS chains, count(*) FILTER (WHERE status = 'succeeded') AS succeeded
                FROM trellis.run_chains WHERE workflow = 'fan-retry'
                """).single()
            #expect(try outcome.decode("chains", as: Int.self) == 1)
            #expect(try outcome.decode("succeeded", as: Int.self) == 1)

            // --all starts over: nothing kept, every node runs.
            let again = try await driver.store.retry(third.id, mode: .all, as: "admin")
            #expect(again.reused == 0)
            #expect(try await Self.drain(driver).count == 10)
        }
    }

    @Test func refusalsNameTheRunAndWriteNothing() async throws {
        try await Self.withFanOut { conn, driver in
            _ = try await conn.query("SELECT trellis.create_principal('mallory', 'user')")
            let open = try await driver.store.start("fan-retry", input: #"{"n": 2}"#, as: "admin").runID
            func runs() async throws -> Int {
                try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n")
            }
            let before = try await runs()
            let stillOpen = await #expect(throws: PGError.self) { try await driver.store.retry(open, as: "admin") }
            #expect(stillOpen?.sqlState == "TR409")
            #expect(stillOpen?.message.contains(open.uuidString.lowercased()) == true)
            _ = try await Self.drain(driver)
            let succeeded = await #expect(throws: PGError.self) { try await driver.store.retry(open, as: "admin") }
            #expect(succeeded?.sqlState == "TR409")
            #expect(succeeded?.message.contains("mode all") == true)
            let outsider = await #expect(throws: PGError.self) { try await driver.store.retry(open, mode: .all, as: "mallory") }
            #expect(outsider?.sqlState == "42501")
            let unknown = await #expect(throws: PGError.self) { try await driver.store.retry(UUID(), as: "admin") }
            #expect(unknown?.sqlState == "TR404")
            let badMode = await #expect(throws: PGError.self) {
                try await conn.query("SELECT * FROM trellis.retry_run($1, 'admin', 'sideways')", [open])
            }
            #expect(badMode?.sqlState == "22023")
            #expect(try await runs() == before)
            // start_run does not take the chain's columns from a user.
            let forged = await #expect(throws: PGError.self) {
                try await driver.store.start("fan-retry", input: "{}", options: #"{"retry_of": "\#(open.uuidString)"}"#, as: "admin")
            }
            #expect(forged?.sqlState == "22023")
        }
    }
}
