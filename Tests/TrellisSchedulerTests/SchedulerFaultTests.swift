import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// Returns `config.value` of a kind JSON cannot carry, picked by `config.kind`.
private struct PoisonHandler: NodeHandler {
    let name = "poison"
    func run(_ context: NodeContext) async throws -> HandlerOutput {
        switch context.config["kind"]?.stringValue {
        case "nan": HandlerOutput(.object(["x": .number(.nan)]))
        case "infinity": HandlerOutput(.array([.number(-.infinity)]))
        case "nul": HandlerOutput(.string("a\u{0}b"))
        default: HandlerOutput(.string(String(repeating: "x", count: 20_000)))
        }
    }
}

private func scalar(_ conn: PGConnection, _ sql: String, _ params: [(any PGEncodable)?] = []) async throws -> Int {
    try await conn.query(sql, params).single().decode("n", as: Int.self)
}

@Suite("Scheduler under faults")
struct SchedulerFaultTests {
    /// NaN, ±Infinity, U+0000 and an oversized output each fail their own node; the
    /// healthy runs claimed in the same batches succeed and the scheduler keeps going.
    @Test func aPoisonOutputFailsItsNodeOnly() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                for kind in ["nan", "infinity", "nul", "huge"] {
                    _ = try await WorkflowStore(connection: conn).publish(definition: """
                        {"name": "poison-\(kind)", "nodes": [{"key": "bad", "kind": "tool_call", "handler": "poison", "config": {"kind": "\(kind)"}}]}
                        """, as: "admin")
                }
                _ = try await Seeder(connection: conn).load(as: "admin")
                let runs = RunStore(connection: conn)
                var poisoned: [String: UUID] = [:]
                var healthy: [UUID] = []
                for index in 0..<10 {
                    healthy.append(try await runs.start("fan-out-fan-in", input: #"{"topic": "t\#(index)"}"#, as: "admin").runID)
                }
                for kind in ["nan", "infinity", "nul", "huge"] {
                    poisoned[kind] = try await runs.start("poison-\(kind)", as: "admin").runID
                }
                var options = SchedulerOptions(name: "poisoned")
                options.pollInterval = .milliseconds(50)
                options.concurrency = 64
                options.batch = 64
                options.maxOutputBytes = 10_000
                options.maxStoredOutputBytes = 15_000  // "huge" (20 KB) is over both caps
                let scheduler = Scheduler(databaseURL: db.url, registry: HandlerRegistry([EchoHandler(), SleepHandler(), PoisonHandler()]), options: options)
                let running = Task { try await scheduler.run() }
                try await waitUntil(timeout: .seconds(60), "every run to finish") {
                    try await scalar(conn, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL") == 0
                }
                #expect(running.isCancelled == false)
                for run in healthy { #expect(try await runs.run(run).status == "succeeded") }
                for (kind, run) in poisoned {
                    let finished = try await runs.run(run)
                    #expect(finished.status == "failed", "\(kind)")
                    let code = try finished.error?.decode(JSONValue.self)["code"]
                    #expect(code == .string(kind == "huge" ? "output_too_large" : "invalid_output"), "\(kind): \(String(describing: code))")
                }
                scheduler.requestStop()
                let summary = try await running.value
                #expect(summary.failed == 4)
            }
        }
    }

    /// The database's own cap (trellis.max_output_bytes) refuses a batch the scheduler let
    /// through: the scheduler sends it again result by result and fails only that node.
    @Test func aBatchTheDatabaseRefusesIsIsolatedToTheOffendingNode() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let name = try await conn.quoteIdentifier(try await conn.query("SELECT current_database() AS d").single().decode("d", as: String.self))
                try await conn.execute(script: "ALTER DATABASE \(name) SET trellis.max_output_bytes = 4000")
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "wide", "nodes": [
                      {"key": "small1", "kind": "tool_call", "handler": "echo", "input": {"v": 1}},
                      {"key": "small2", "kind": "tool_call", "handler": "echo", "input": {"v": 2}},
                      {"key": "big", "kind": "tool_call", "handler": "echo", "input": {"blob": "$input.blob"}, "on_error": "continue"},
                      {"key": "small3", "kind": "tool_call", "handler": "echo", "input": {"v": 3}}]}
                    """, as: "admin")
                let run = try await RunStore(connection: conn).start(
                    "wide", input: #"{"blob": "\#(String(repeating: "z", count: 6_000))"}"#, as: "admin").runID
                var options = SchedulerOptions(name: "isolating")
                options.pollInterval = .milliseconds(50)
                let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options)
                let running = Task { try await scheduler.run() }
                try await waitUntil(timeout: .seconds(60), "the run to finish") {
                    try await RunStore(connection: conn).run(run).finishedAt != nil
                }
                scheduler.requestStop()
                _ = try await running.value
                let nodes = try await RunStore(connection: conn).nodes(of: run)
                let states = Dictionary(uniqueKeysWithValues: nodes.map { ($0.key, $0.status) })
                #expect(states == ["small1": "succeeded", "small2": "succeeded", "small3": "succeeded", "big": "failed"])
                let big = try #require(nodes.first { $0.key == "big" })
                #expect(try big.error?.decode(JSONValue.self)["code"] == .string("output_too_large"))
                #expect(try await RunStore(connection: conn).run(run).status == "succeeded")  // on_error: continue
            }
        }
    }

    /// Cancelling a run interrupts its running handler at once.
    @Test func cancelInterruptsARunningHandler() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "blocking", "nodes": [{"key": "wait", "kind": "tool_call", "handler": "block"}]}
                    """, as: "admin")
                let handler = BlockingHandler()
                var options = SchedulerOptions(name: "cancellable")
                options.pollInterval = .milliseconds(50)
                options.shutdownGrace = .milliseconds(100)
                // NOTIFY trellis_cancel is the fast path; when it is missed (the LISTEN
                // connection not up yet) the next heartbeat finds the node gone: lease/3.
                options.leaseSeconds = 3
                let scheduler = Scheduler(databaseURL: db.url, registry: HandlerRegistry([handler]), options: options)
                let running = Task { try await scheduler.run() }
                let run = try await RunStore(connection: conn).start("blocking", as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "the handler to start") { handler.started.load(ordering: .relaxed) == 1 }
                #expect(try await RunStore(connection: conn).control(.cancel, run: run, as: "admin") == "cancelled")
                try await waitUntil(timeout: .seconds(60), "the handler to be cancelled") { handler.cancelled.load(ordering: .relaxed) == 1 }
                scheduler.requestStop()
                let summary = try await running.value
                #expect(summary.succeeded == 0 && summary.failed == 0)
            }
        }
    }

    /// Cancelling a run stops a long `sleep` node and kills a `shell` node's whole process
    /// group, through the real cancel path (NOTIFY trellis_cancel).
    @Test func cancelStopsASleepAndAShellChildTree() async throws {
        let pidFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-cancel-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "long", "nodes": [
                      {"key": "nap", "kind": "tool_call", "handler": "sleep", "config": {"ms": 600000}},
                      {"key": "tree", "kind": "tool_call", "handler": "shell",
                       "config": {"argv": ["/bin/sh", "-c", "sleep 300 & echo $! > \\"$0\\"; wait", "\(pidFile.path)"]}}]}
                    """, as: "admin")
                var options = SchedulerOptions(name: "cancel-tree")
                options.pollInterval = .milliseconds(50)
                options.shutdownGrace = .milliseconds(100)
                options.leaseSeconds = 3  // the heartbeat backs up a missed cancel NOTIFY
                let scheduler = Scheduler(databaseURL: db.url, registry: HandlerRegistry([SleepHandler(), ShellHandler()]), options: options)
                let running = Task { try await scheduler.run() }
                let run = try await RunStore(connection: conn).start("long", as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "both nodes to run and the grandchild to start") {
                    let started = try await scalar(conn, "SELECT count(*) AS n FROM trellis.node_runs WHERE status = 'running'") == 2
                    return started && ((try? String(contentsOf: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n")
                }
                let grandchild = try #require(pid_t((try String(contentsOf: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
                #expect(try await RunStore(connection: conn).control(.cancel, run: run, as: "admin") == "cancelled")
                try await waitUntil(timeout: .seconds(10), "the shell's grandchild to be killed") {
                    guard let stat = try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8) else { return true }
                    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
                }
                // The sleeping handler was cancelled too: the scheduler has nothing in flight and stops at once.
                scheduler.requestStop()
                let stopped = ContinuousClock.now
                let summary = try await running.value
                #expect(ContinuousClock.now - stopped < .seconds(5))
                #expect(summary.released == 0 && summary.succeeded == 0)
            }
        }
    }

    /// A scheduler cut off from its database stops its handlers before their leases end,
    /// so no node runs on two schedulers at once; it reconnects when the server is back.
    @Test func aLeaseThatCannotBeRenewedStopsItsHandler() async throws {
        try await PrivateCluster.with(durable: true) { cluster in
            try await PGConnection.withConnection(cluster.url) { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "blocking", "nodes": [{"key": "wait", "kind": "tool_call", "handler": "block"}]}
                    """, as: "admin")
                _ = try await RunStore(connection: conn).start("blocking", as: "admin")
            }
            let handler = BlockingHandler()
            var options = SchedulerOptions(name: "cut-off")
            options.pollInterval = .milliseconds(50)
            options.leaseSeconds = 2
            options.shutdownGrace = .milliseconds(100)  // the blocking handler never finishes by itself
            let scheduler = Scheduler(databaseURL: cluster.url, registry: HandlerRegistry([handler]), options: options)
            let running = Task { try await scheduler.run() }
            try await waitUntil(timeout: .seconds(30), "the handler to start") { handler.started.load(ordering: .relaxed) == 1 }
            #expect(try cluster.cluster.stop(immediate: true))
            // With the database gone nothing else can cancel it: only the lease watchdog does
            // (its deadline arithmetic is pinned by LeaseBookTests, without a clock).
            try await waitUntil(timeout: .seconds(60), "the handler to be stopped") { handler.cancelled.load(ordering: .relaxed) == 1 }
            _ = try await cluster.cluster.start()
            // Back online: the node's lease lapsed, it is re-queued and this scheduler runs it again.
            try await waitUntil(timeout: .seconds(60), "the node to be claimed again") { handler.started.load(ordering: .relaxed) == 2 }
            scheduler.requestStop()
            _ = try await running.value
            try await PGConnection.withConnection(cluster.url) { conn in
                let outcomes = try await conn.query("SELECT outcome FROM trellis.node_attempts ORDER BY attempt").rows.map { try $0.decode("outcome", as: String.self) }
                #expect(outcomes == ["lost", "lost"])  // the second released at the graceful stop
            }
        }
    }

    @Test func aNewerClaimOfTheSameNodeCancelsTheOlderTask() async throws {
        let inFlight = InFlight(lease: .seconds(30))
        let older = Task<Void, Never> { try? await Task.sleep(for: .seconds(600)) }
        let newer = Task<Void, Never> { try? await Task.sleep(for: .seconds(600)) }
        inFlight.add(9, attempt: 1, sentAt: .now, task: older)
        inFlight.add(9, attempt: 2, sentAt: .now, task: newer)
        _ = await older.value  // returns only because it was cancelled
        #expect(older.isCancelled && !newer.isCancelled)
        #expect(inFlight.remove(9, attempt: 1) == false)  // the old attempt's result cannot free the new one
        #expect(inFlight.count == 1)
        inFlight.cancelAll()
        _ = await newer.value
    }
}
