import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// `trellis scheduler --lanes`: several claim/report loops in one process.
@Suite struct SchedulerLanesTests {
    @Test func theConcurrencyIsSplitEvenlyAndOnlyTheFirstLaneFiresSchedules() {
        var options = SchedulerOptions(name: "w")
        options.concurrency = 7
        options.batch = 100
        options.artifactConnections = 4
        let lanes = SchedulerLanes.split(options, lanes: 2)
        #expect(lanes.map(\.name) == ["w/1", "w/2"])
        #expect(lanes.map(\.concurrency) == [4, 3])
        #expect(lanes.map(\.batch) == [4, 3], "a lane never claims more than it may hold")
        #expect(lanes.map(\.artifactConnections) == [2, 2])
        #expect(lanes.map(\.fireSchedules) == [true, false])

        options.concurrency = 1
        let one = SchedulerLanes.split(options, lanes: 2)
        #expect(one.map(\.name) == ["w"], "never more lanes than handlers in flight; one lane keeps the name")
        #expect(one.map(\.concurrency) == [1])
        #expect(SchedulerLanes.count(lanes: 4, concurrency: 3) == 3)
        #expect(SchedulerLanes.count(lanes: 0, concurrency: 3) == 1)
    }

    /// The stock process runs two lanes: both register, each holds at most its half of the
    /// concurrency (150 sleeping nodes need both), every node runs once, and SIGTERM stops
    /// both lanes (deregistered, exit 0).
    @Test func theStockSchedulerRunsTwoLanesThatShareTheWorkAndStopTogether() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "nap", "nodes": [{"key": "a", "kind": "tool_call", "handler": "sleep", "config": {"ms": 1500}}]}"#,
                    as: "admin")
                let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "duo", "--handlers", "sleep", "--poll-interval", "100",
                                                                "--database-url", db.url])
                try await waitUntil(timeout: .seconds(30), "two lanes to register") {
                    try await conn.query("SELECT string_agg(name || ':' || concurrency, ',' ORDER BY name) AS l FROM trellis.schedulers WHERE stopped_at IS NULL")
                        .single().decodeIfPresent("l", as: String.self) == "duo/1:100,duo/2:100"
                }
                _ = try await RunStore(connection: conn).start("nap", inputs: Array(repeating: "{}", count: 150), as: "admin")
                var held: [String] = []
                try await waitUntil(timeout: .seconds(30), "all 150 nodes held, by both lanes") {
                    held = try await conn.query("""
                        SELECT scheduler_name || ':' || count(*) AS h FROM trellis.node_attempts WHERE outcome = 'running'
                        GROUP BY scheduler_name ORDER BY scheduler_name
                        """).rows.map { try $0.decode("h", as: String.self) }
                    return held.count == 2 && held.compactMap { Int($0.split(separator: ":").last ?? "") }.reduce(0, +) == 150
                }
                for lane in held {
                    let count = Int(lane.split(separator: ":").last ?? "") ?? 0
                    #expect((50...100).contains(count), "a lane holds at most its 100: \(held)")
                }
                try await waitUntil(timeout: .seconds(60), "the 150 runs to finish") {
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL").single().decode("n", as: Int.self) == 0
                }
                #expect(scheduler.stop() == 0, "\(scheduler.log)")
                let log = scheduler.log
                #expect(log.contains("scheduler duo/1 stopped") && log.contains("scheduler duo/2 stopped"), "\(log)")
                #expect(try await conn.query("SELECT count(*) AS n FROM trellis.schedulers WHERE stopped_at IS NOT NULL").single()
                    .decode("n", as: Int.self) == 2)
                let once = try await conn.query("""
                    SELECT count(*) FILTER (WHERE status = 'succeeded') AS ok, count(*) AS n,
                           (SELECT count(*) FROM trellis.node_attempts) AS attempts FROM trellis.node_runs
                    """).single()
                #expect(try once.decode("ok", as: Int.self) == 150 && once.decode("n", as: Int.self) == 150
                        && once.decode("attempts", as: Int.self) == 150)
            }
        }
    }

    /// Lanes ignore each other's readiness doorbells (the lane that rang claimed in the same
    /// transaction), so a lane that made more ready than it may hold must wake the others
    /// itself. One handler per lane, polls 20 s apart (and no schedule checks, which wake a
    /// lane every second): the root's lane claims one child as it reports the root and is
    /// then full; the other child must run beside it on the other lane, not after the first
    /// child's six seconds on the same lane (or at the next heartbeat or poll). Asserted as
    /// overlap, not as a latency bound: under CI's load the wake took 1.3 s once.
    @Test func aFullLaneWakesItsSiblingForWhatItMadeReady() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "split", "nodes": [
                      {"key": "root", "kind": "tool_call", "handler": "echo"},
                      {"key": "left", "kind": "tool_call", "handler": "sleep", "config": {"ms": 6000}},
                      {"key": "right", "kind": "tool_call", "handler": "sleep", "config": {"ms": 6000}}],
                     "edges": [{"from": "root", "to": "left"}, {"from": "root", "to": "right"}]}
                    """, as: "admin")
                var options = SchedulerOptions(name: "pair")
                options.concurrency = 2
                options.pollInterval = .seconds(20)
                options.fireSchedules = false  // else the first lane looks at schedules every second
                let lanes = SchedulerLanes(databaseURL: db.url, registry: .builtIn, options: options, lanes: 2)
                let running = Task { try await lanes.run() }
                try await waitUntil(timeout: .seconds(30), "both lanes to register") { lanes.isReady }
                let run = try await RunStore(connection: conn).start("split", as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "the run to finish") {
                    try await RunStore(connection: conn).run(run).status == "succeeded"
                }
                lanes.requestStop()
                _ = try await running.value
                let row = try await conn.query("""
                    SELECT max(started_at) < min(finished_at) AS overlapped,
                           extract(epoch FROM max(started_at) - min(started_at)) * 1000 AS gap_ms,
                           count(DISTINCT scheduler_id) AS lanes
                    FROM trellis.node_runs WHERE run_id = $1 AND node_key IN ('left', 'right')
                    """, [run]).single()
                let gap = try row.decode("gap_ms", as: Double.self)
                #expect(try row.decode("overlapped", as: Bool.self), "the second child started \(gap) ms after the first, once it had finished")
                #expect(try row.decode("lanes", as: Int.self) == 2)
            }
        }
    }

    /// A lane count out of range is refused before anything connects: one line, a usage
    /// exit code, no registration.
    @Test func aLaneCountOutOfRangeIsRefusedAndNothingRegisters() async throws {
        try await TestDatabase.withMigrated { db in
            for lanes in ["0", "17", "two"] {
                let refused = try TrellisBinary.run(["scheduler", "--lanes", lanes, "--database-url", db.url])
                #expect(refused.status == 64, "--lanes \(lanes): \(refused.stderr)")
                #expect(refused.stderr.hasPrefix("Error: ") && refused.stderr.contains("--lanes"), "\(refused.stderr)")
                let bench = try TrellisBinary.run(["bench", "flat", "--lanes", lanes, "--database-url", db.url])
                #expect(bench.status == 64 && bench.stderr.contains("--lanes"), "bench --lanes \(lanes): \(bench.stderr)")
            }
            let registered = try await db.withConnection { conn in
                try await conn.query("SELECT count(*) AS n FROM trellis.schedulers").single().decode("n", as: Int.self)
            }
            #expect(registered == 0)
        }
    }

    /// The lane a doorbell rung elsewhere wakes: a parked one with room (the most room),
    /// else one with room, else any; ties go round.
    @Test func aDoorbellGoesToAParkedLaneWithRoomFirst() {
        typealias Load = LaneSiblings.Load
        let parkedFull = Load(room: 0, waiting: true), busy = Load(room: 40, waiting: false)
        #expect(LaneSiblings.choose([(0, busy), (1, Load(room: 10, waiting: true))], turn: 0) == 1)
        #expect(LaneSiblings.choose([(0, Load(room: 5, waiting: true)), (1, Load(room: 10, waiting: true))], turn: 0) == 1)
        #expect(LaneSiblings.choose([(0, parkedFull), (1, busy)], turn: 0) == 1, "a full lane cannot claim")
        #expect(LaneSiblings.choose([(0, Load(room: 0, waiting: false)), (1, parkedFull)], turn: 1) == 1)
        let even = [(lane: 0, load: Load(room: 50, waiting: true)), (lane: 1, load: Load(room: 50, waiting: true))]
        #expect(Set((0..<4).compactMap { LaneSiblings.choose(even, turn: $0) }) == [0, 1], "ties spread over the lanes")
        #expect(LaneSiblings.choose([], turn: 0) == nil)
    }

    @Test func theListenerStopsWithTheLastLaneNotTheFirst() async throws {
        let siblings = LaneSiblings()
        for lane in 0..<2 {
            siblings.register(lane: lane, wake: {}, cancel: { _ in })
            siblings.laneStarted(lane)
        }
        let listener = Task { while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) } }
        siblings.keepListening(listener)
        siblings.laneStopped(0)
        try await Task.sleep(for: .milliseconds(50))
        #expect(!listener.isCancelled, "the second lane still listens through it")
        siblings.laneStopped(1)
        #expect(listener.isCancelled)
        let late = Task { while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) } }
        siblings.keepListening(late)
        #expect(late.isCancelled, "a listener handed over after every lane stopped is stopped at once")
        siblings.laneStarted(0)  // a scheduler run again
        let again = Task { while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) } }
        siblings.keepListening(again)
        #expect(!again.isCancelled)
        siblings.laneStopped(0)
        #expect(again.isCancelled)
    }

    /// In a graceful stop the first lane, holding nothing, is done at once while the second
    /// waits for its handler: a cancel for the second lane's node must still reach it through
    /// the first lane's listener (with it gone, it waited for a heartbeat, up to 10 s).
    /// How each cancel came is read from the lost-lease count at the moment the handler was
    /// cancelled (a heartbeat counts the node lost before it cancels it), not from how long
    /// it took: a loaded machine can stall longer than a heartbeat's interval.
    @Test func aStoppingLaneStillHearsCancelsAfterTheFirstLaneIsDone() async throws {
        try await withTwoLanesHoldingANodeEach("drainers", shutdownGrace: .seconds(120)) { conn, lanes, handler, running in
            #expect(try await RunStore(connection: conn).control(.cancel, run: try await Self.run(heldBy: "drainers/1", conn),
                                                                 as: "admin") == "cancelled")
            try await waitUntil(timeout: .seconds(60), "the first lane's handler to be cancelled") {
                handler.cancelled.load(ordering: .relaxed) == 1
            }
            lanes.requestStop()
            try await waitUntil(timeout: .seconds(10), "the first lane, holding nothing, to stop") {
                try await conn.query("SELECT stopped_at IS NOT NULL AS stopped FROM trellis.schedulers WHERE name = 'drainers/1'")
                    .single().decode("stopped", as: Bool.self)
            }
            #expect(try await conn.query("SELECT stopped_at IS NULL AS up FROM trellis.schedulers WHERE name = 'drainers/2'")
                .single().decode("up", as: Bool.self), "the second lane waits for its handler (grace 120 s)")
            #expect(try await RunStore(connection: conn).control(.cancel, run: try await Self.run(heldBy: "drainers/2", conn),
                                                                 as: "admin") == "cancelled")
            try await waitUntil(timeout: .seconds(60), "the second lane's handler to be cancelled") {
                handler.cancelled.load(ordering: .relaxed) == 2
            }
            #expect(handler.probed == [0, 0], "both cancels came through the listener, before any heartbeat found the node lost")
            _ = try await running.value
        }
    }

    /// One LISTEN connection per process, on the first lane: a doorbell rung by another
    /// session (a run started) wakes one lane, not every lane — each run of one echo node
    /// costs its lane two claim calls (the one that takes it, the one that reports it) and
    /// no other lane an empty one. Polls 20 s apart, so only doorbells wake the lanes — and
    /// heartbeats, every 10 s, whose passes claim too: on a loaded machine where the runs
    /// take longer (26 s once), each lane's heartbeat passes are allowed for.
    @Test func oneListenerPerProcessAndADoorbellWakesOneLane() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "one", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}]}"#, as: "admin")
                var options = SchedulerOptions(name: "quiet")
                options.concurrency = 4
                options.pollInterval = .seconds(20)
                options.leaseSeconds = 60
                options.fireSchedules = false
                let metrics = SchedulerMetrics()
                let lanes = SchedulerLanes(databaseURL: db.url, registry: .builtIn, options: options, lanes: 2, metrics: metrics)
                let running = Task { try await lanes.run() }
                try await waitUntil(timeout: .seconds(30), "both lanes and the listener to connect") {
                    try await conn.query("""
                        SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()
                          AND application_name LIKE 'trellis-scheduler-listen %'
                        """).single().decode("n", as: Int.self) == 1 && lanes.isReady
                }
                func claimCalls() -> Int {
                    prometheusSample(metrics.text(), "trellis_scheduler_claims_total").map { Int($0) } ?? -1
                }
                try await Task.sleep(for: .seconds(1))  // the start-up passes (the listener wakes both lanes once)
                let before = claimCalls(), began = ContinuousClock.now
                // 20 runs: a loaded machine adds a stray claim now and then (24 for 10 runs
                // once in CI), so the bound allows one in four runs; every lane waking on
                // every doorbell would make 3 per run, 60, well past it.
                let runs = 20
                for _ in 0..<runs {
                    let run = try await RunStore(connection: conn).start("one", as: "admin").runID
                    try await waitUntil(timeout: .seconds(10), "the run to finish on a doorbell") {
                        try await RunStore(connection: conn).run(run).status == "succeeded"
                    }
                    try await Task.sleep(for: .milliseconds(100))  // the reporting pass is over
                }
                let calls = claimCalls() - before
                let heartbeats = 2 * Int((ContinuousClock.now - began) / SchedulerLoop<ContinuousClock.Instant>.maxHeartbeatInterval)
                let listeners = try await conn.query("""
                    SELECT string_agg(application_name, ',') AS a FROM pg_stat_activity WHERE datname = current_database()
                      AND application_name LIKE 'trellis-scheduler-listen %'
                    """).single().decodeIfPresent("a", as: String.self)
                lanes.requestStop()
                _ = try await running.value
                #expect(listeners == "trellis-scheduler-listen quiet/1", "one listener, the first lane's")
                #expect(calls >= 2 * runs && calls <= 2 * runs + runs / 4 + 2 + heartbeats,
                        "\(calls) claim calls for \(runs) runs, \(heartbeats) heartbeat passes allowed (every lane waking made 3 each)")
            }
        }
    }

    /// A cancel reaches the lane that holds the node through the first lane's listener, at
    /// once — not at the holder's next heartbeat.
    @Test func aCancelReachesTheLaneThatHoldsTheNode() async throws {
        try await withTwoLanesHoldingANodeEach("holders", shutdownGrace: .milliseconds(100)) { conn, lanes, handler, running in
            #expect(try await RunStore(connection: conn).control(.cancel, run: try await Self.run(heldBy: "holders/2", conn),
                                                                 as: "admin") == "cancelled")
            // A cancel that missed the lane would be found by its next heartbeat (at most
            // 10 s apart), which counts the node's lease lost before it cancels the handler:
            // the count read at the cancel tells the two apart however slow the machine is.
            try await waitUntil(timeout: .seconds(60), "the second lane's handler to be cancelled") {
                handler.cancelled.load(ordering: .relaxed) == 1
            }
            #expect(handler.probed.first == 0, "the cancel came through the listener, before any heartbeat found the node lost")
            lanes.requestStop()
            _ = try await running.value
            #expect(handler.cancelled.load(ordering: .relaxed) == 2, "the stop cancels the other")
        }
    }

    /// Two lanes (`NAME/1`, `NAME/2`) serving a `block` handler, polls 20 s apart (only
    /// doorbells wake them), each holding the node of one of two runs.
    private func withTwoLanesHoldingANodeEach(
        _ name: String, shutdownGrace: Duration,
        _ body: (PGConnection, SchedulerLanes, BlockingHandler, Task<SchedulerSummary, any Error>) async throws -> Void
    ) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "hold", "nodes": [{"key": "a", "kind": "tool_call", "handler": "block"}]}"#, as: "admin")
                let metrics = SchedulerMetrics()
                let handler = BlockingHandler { prometheusSample(metrics.text(), "trellis_scheduler_leases_lost_total") }
                var options = SchedulerOptions(name: name)
                options.concurrency = 2
                options.pollInterval = .seconds(20)
                options.leaseSeconds = 300
                options.shutdownGrace = shutdownGrace
                options.fireSchedules = false
                let lanes = SchedulerLanes(databaseURL: db.url, registry: HandlerRegistry([handler]), options: options, lanes: 2,
                                           metrics: metrics)
                let running = Task { try await lanes.run() }
                try await waitUntil(timeout: .seconds(30), "both lanes to register") { lanes.isReady }
                #expect(try await RunStore(connection: conn).start("hold", inputs: ["{}", "{}"], as: "admin").count == 2)
                try await waitUntil(timeout: .seconds(30), "each lane to hold one node") {
                    try await conn.query("""
                        SELECT count(DISTINCT scheduler_name) AS n FROM trellis.node_attempts WHERE outcome = 'running'
                        """).single().decode("n", as: Int.self) == 2 && handler.started.load(ordering: .relaxed) == 2
                }
                try await body(conn, lanes, handler, running)
            }
        }
    }

    private static func run(heldBy lane: String, _ conn: PGConnection) async throws -> UUID {
        try await conn.query("SELECT run_id FROM trellis.node_attempts WHERE outcome = 'running' AND scheduler_name = $1", [lane])
            .single().decode("run_id")
    }
}
