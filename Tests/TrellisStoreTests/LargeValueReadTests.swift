import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Paths taken on every start and every stream read no large stored value they do not
/// need. Definitions with long prompts and runs with large inputs are stored out of line
/// (TOAST), and a row made a value — a whole-row reference, a PL/pgSQL row passed to a
/// function — is detoasted whole, read and decompressed, where two small columns were
/// wanted (a start paid 0.1–0.25 ms for a 90 KB definition before session 29). Each test
/// counts the TOAST blocks the path touches.
@Suite("Large values left unread")
struct LargeValueReadTests {
    /// 30,000 characters of text that does not compress much (a fixed pseudo-random
    /// sequence, different per `seed`): stored out of line, in a TOAST table.
    private static func longText(seed: UInt64) -> String {
        var state = seed
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ")
        return String((0..<30_000).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return letters[Int((state >> 33) % UInt64(letters.count))]
        })
    }

    /// Three nodes whose configs carry a long prompt each.
    private static let wide: String = {
        let nodes = (0..<3).map { #"{"key": "n\#($0)", "kind": "tool_call", "handler": "parked", "config": {"prompt": "\#(longText(seed: UInt64($0) + 1))"}}"# }
        return #"{"name": "wide", "nodes": [\#(nodes.joined(separator: ", "))], "edges": [{"from": "n0", "to": "n1"}, {"from": "n1", "to": "n2"}]}"#
    }()

    /// Blocks of the TOAST tables of workflow versions, workflow nodes, runs and node runs
    /// read or found in shared buffers, all backends: `conn`'s statistics are flushed
    /// first (at the end of that statement), then `watcher` reads the counters afresh.
    private static func toastBlocks(after conn: PGConnection, readBy watcher: PGConnection) async throws -> Int64 {
        _ = try await conn.query("SELECT pg_stat_force_next_flush()")
        _ = try await watcher.query("SELECT pg_stat_clear_snapshot()")
        return try await watcher.query("""
            SELECT coalesce(sum(coalesce(s.heap_blks_read, 0) + coalesce(s.heap_blks_hit, 0)), 0)::bigint AS blocks
            FROM pg_class c JOIN pg_statio_all_tables s ON s.relid = c.reltoastrelid
            WHERE c.oid IN ('trellis.workflow_versions'::regclass, 'trellis.workflow_nodes'::regclass,
                            'trellis.workflow_runs'::regclass, 'trellis.node_runs'::regclass)
            """).single().decode("blocks")
    }

    /// Nothing else of the test's database may read those TOAST tables meanwhile.
    private static func keepVacuumAway(_ conn: PGConnection) async throws {
        try await conn.execute(script: """
            ALTER TABLE trellis.workflow_versions SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
            ALTER TABLE trellis.workflow_nodes SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
            ALTER TABLE trellis.workflow_runs SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
            ALTER TABLE trellis.node_runs SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
            """)
    }

    /// Runs `body` with a watcher connection (which reads the counters) and the connection
    /// under test, on a migrated database whose vacuum stays away from the counted tables.
    private static func watched(_ body: (_ watcher: PGConnection, _ conn: PGConnection) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { watcher in
                try await db.withConnection { conn in
                    try await keepVacuumAway(watcher)
                    try await body(watcher, conn)
                }
            }
        }
    }

    /// A run whose input is a long document, passed on to its first node's input: reporting
    /// the nodes' results (and progress) and finishing the run touch neither the run's input
    /// nor the nodes' inputs, which only a claim hands to the handler.
    @Test func resultsProgressAndTheRunsFinishLeaveLargeInputsUnread() async throws {
        try await Self.watched { watcher, conn in
            _ = try await WorkflowStore(connection: conn).publish(definition: """
                {"name": "carry", "nodes": [{"key": "read", "kind": "tool_call", "handler": "echo", "input": {"doc": "$input.document"}},
                                            {"key": "sum", "kind": "tool_call", "handler": "echo"}],
                 "edges": [{"from": "read", "to": "sum"}]}
                """, as: "admin")
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("carry", input: #"{"document": "\#(Self.longText(seed: 11))"}"#, as: "admin").runID
            var readers: [String] = []
            // Runs `step` and names it in `readers` if the counters moved under it.
            func counted(_ name: String, _ step: () async throws -> Void) async throws {
                let before = try await Self.toastBlocks(after: conn, readBy: watcher)
                try await step()
                if try await Self.toastBlocks(after: conn, readBy: watcher) != before { readers.append(name) }
            }
            let first = try await driver.claim()
            #expect(first.map(\.nodeKey) == ["read"])
            try await counted("progress") {
                _ = try await driver.scheduling.reportProgress(scheduler: driver.scheduler,
                                                               [.progress(id: first[0].nodeRunID, attempt: first[0].attempt, percent: 50, message: "half")])
            }
            try await counted("the first result") { try await driver.complete(first) }
            let second = try await driver.claim()
            #expect(second.map(\.nodeKey) == ["sum"])
            try await counted("the last result and the run's finish") { try await driver.complete(second) }
            #expect(readers.isEmpty, "read TOAST blocks: \(readers)")
            #expect(try await driver.store.run(run).status == "succeeded")
            // The claim did read the first node's input (the probe can fail).
            #expect(first[0].input.text.count > 30_000)
        }
    }

    /// Every stream start, snapshot and node detail checks access to its run first
    /// (`require_run_access` holds the run's row, whose input stays a pointer until read:
    /// a guard, this passed before session 29's change too).
    @Test func anAccessCheckLeavesTheRunsInputUnread() async throws {
        try await Self.watched { watcher, conn in
            _ = try await WorkflowStore(connection: conn).publish(
                definition: #"{"name": "plain", "nodes": [{"key": "a", "kind": "tool_call", "handler": "parked"}]}"#, as: "admin")
            let run = try await RunStore(connection: conn)
                .start("plain", input: #"{"document": "\#(Self.longText(seed: 7))"}"#, as: "admin").runID
            let before = try await Self.toastBlocks(after: conn, readBy: watcher)
            for _ in 0..<5 {
                let status = try await conn.query("SELECT trellis.require_run_access($1, 'admin', 'view') AS s", [run]).single()
                #expect(try status.decode("s", as: String.self) == "queued")
            }
            let after = try await Self.toastBlocks(after: conn, readBy: watcher)
            #expect(after - before == 0, "access checks read \(after - before) blocks of the run's input")
            // The input is out of line: reading it does count (the probe can fail).
            _ = try await conn.query("SELECT length(input::text) FROM trellis.workflow_runs WHERE id = $1", [run])
            #expect(try await Self.toastBlocks(after: conn, readBy: watcher) - after > 0)
        }
    }

    @Test func startsOfAWorkflowWithALargeDefinitionLeaveItsTOASTUnread() async throws {
        try await Self.watched { watcher, conn in
            _ = try await WorkflowStore(connection: conn).publish(definition: Self.wide, as: "admin")
            let stored = try await conn.query("""
                SELECT pg_column_size(v.definition) AS bytes, v.id, v.version FROM trellis.workflow_versions v
                JOIN trellis.workflows w ON w.id = v.workflow_id WHERE w.name = 'wide'
                """).single()
            #expect(try stored.decode("bytes", as: Int64.self) > 60_000, "the definition must be large enough to be stored out of line")
            let versionID: Int64 = try stored.decode("id")

            // A finished run to retry, started and cancelled before the count.
            let store = RunStore(connection: conn)
            let cancelled = try await store.start("wide", as: "admin").runID
            try await store.control(.cancel, run: cancelled, as: "admin")

            let before = try await Self.toastBlocks(after: conn, readBy: watcher)
            var started: [UUID] = []
            for i in 0..<5 { started.append(try await store.start("wide", input: #"{"i": \#(i)}"#, as: "admin").runID) }
            started.append(try await store.start("wide", as: "admin", version: 1).runID)
            started += try await store.start("wide", inputs: ["{}", "{}", "{}"], as: "admin").map(\.runID)
            started += try await store.start("wide", inputs: ["{}"], as: "admin", version: 1).map(\.runID)
            started.append(try await store.retry(cancelled, mode: .all, as: "admin").id)
            let after = try await Self.toastBlocks(after: conn, readBy: watcher)
            #expect(after - before == 0, "starts read \(after - before) blocks of the definition's TOAST")

            // The runs pin the version by id and say its number in run.queued.
            #expect(started.count == 11)
            for run in started {
                let row = try await conn.query("""
                    SELECT r.version_id, (e.data ->> 'version')::int AS number FROM trellis.workflow_runs r
                    JOIN trellis.run_events e ON e.run_id = r.id AND e.seq = 1 AND e.type = 'run.queued'
                    WHERE r.id = $1
                    """, [run]).single()
                #expect(try row.decode("version_id", as: Int64.self) == versionID)
                #expect(try row.decode("number", as: Int.self) == 1)
            }
        }
    }

    /// The probe itself: reading the definition through the version row does count blocks,
    /// so the test above cannot pass because the counters never move.
    @Test func readingTheVersionRowCountsTOASTBlocks() async throws {
        try await Self.watched { watcher, conn in
            _ = try await WorkflowStore(connection: conn).publish(definition: Self.wide, as: "admin")
            let before = try await Self.toastBlocks(after: conn, readBy: watcher)
            _ = try await conn.query("""
                DO $$ DECLARE v trellis.workflow_versions; BEGIN
                    SELECT * INTO v FROM trellis.workflow_versions ORDER BY id DESC LIMIT 1;
                END $$
                """)
            #expect(try await Self.toastBlocks(after: conn, readBy: watcher) - before > 0)
        }
    }
}
