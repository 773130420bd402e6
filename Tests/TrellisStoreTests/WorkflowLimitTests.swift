import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Per-workflow concurrency limits, enforced by claim_nodes under an advisory lock.
@Suite("Workflow concurrency limits")
struct WorkflowLimitTests {
    static func fanOut(_ name: String, leaves: Int) -> String {
        let nodes = (0..<leaves).map { #"{"key": "leaf\#($0)", "kind": "tool_call", "handler": "echo"}"# }
        let edges = (0..<leaves).map { #"{"from": "root", "to": "leaf\#($0)"}"# }
        return #"{"name": "\#(name)", "nodes": [{"key": "root", "kind": "tool_call", "handler": "echo"}, \#(nodes.joined(separator: ", "))], "edges": [\#(edges.joined(separator: ", "))]}"#
    }

    static let pair = #"{"name": "pair", "nodes": [{"key": "first", "kind": "tool_call", "handler": "echo"}, {"key": "second", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "first", "to": "second"}]}"#

    func complete(_ driver: Driver, _ claims: [SchedulerStore.Claim]) async throws {
        let reports = try await driver.complete(claims)
        #expect(reports.allSatisfy { $0.accepted }, "\(reports)")
    }

    @Test func nodeLimitCapsRunningNodesAcrossRunsWithoutStarvingOthers() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: Self.fanOut("capped", leaves: 4), as: "admin")
                _ = try await workflows.publish(definition: Self.fanOut("free", leaves: 1), as: "admin")
                let limits = try await workflows.setLimits("capped", maxRuns: nil, maxNodes: 3, as: "admin")
                #expect(limits.maxConcurrentNodes == 3 && limits.maxConcurrentRuns == nil)
                let driver = try await Driver.make(conn)
                let a = try await driver.store.start("capped", as: "admin").runID
                let b = try await driver.store.start("capped", as: "admin").runID

                try await complete(driver, try await driver.claim())  // both roots (2 ≤ 3)
                var running = try await driver.claim()
                #expect(running.count == 3, "8 leaves ready, 3 slots")
                #expect(try await driver.claim().isEmpty, "the workflow is at its limit")

                // Another workflow's work is claimed while the limited one is full.
                let free = try await driver.store.start("free", as: "admin").runID
                let other = try await driver.claim()
                #expect(other.map(\.runID) == [free])
                try await complete(driver, other)
                let leaf = try await driver.claim()
                #expect(leaf.map(\.nodeKey) == ["leaf0"])
                try await complete(driver, leaf)
                #expect(try await driver.store.run(free).status == "succeeded")

                // Each finished node frees exactly one slot.
                try await complete(driver, [running.removeFirst()])
                let next = try await driver.claim()
                #expect(next.count == 1)
                running += next
                #expect(try await workflows.limits("capped").runningNodes == 3)
                while !running.isEmpty {
                    try await complete(driver, running)
                    running = try await driver.claim()
                    #expect(running.count <= 3)
                }
                for run in [a, b] {
                    #expect(try await driver.store.run(run).status == "succeeded")
                }
            }
        }
    }

    @Test func runLimitAdmitsQueuedRunsInOrder() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: Self.pair, as: "admin")
                _ = try await workflows.setLimits("pair", maxRuns: 1, maxNodes: nil, as: "admin")
                let driver = try await Driver.make(conn)
                var runs: [UUID] = []
                for _ in 0..<3 { runs.append(try await driver.store.start("pair", as: "admin").runID) }

                var order: [UUID] = []
                for _ in 0..<6 {
                    let claims = try await driver.claim()
                    #expect(claims.count == 1, "one run at a time, one node at a time")
                    order += claims.map(\.runID)
                    let statuses = try await conn.query(
                        "SELECT status FROM trellis.workflow_runs WHERE id = ANY ($1::uuid[]) ORDER BY created_at", [runs]
                    ).rows.map { try $0.decode("status", as: String.self) }
                    #expect(statuses.filter { $0 == "running" }.count == 1, "\(statuses)")
                    try await complete(driver, claims)
                }
                #expect(order == [runs[0], runs[0], runs[1], runs[1], runs[2], runs[2]])
                #expect(try await driver.claim().isEmpty)
            }
        }
    }

    /// Runs hold their slot from their first claim; a limit set later counts the runs
    /// already started (set_workflow_limits marks them), not only those claimed after it.
    @Test func aLimitSetLaterCountsTheRunsAlreadyStarted() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: Self.pair, as: "admin")
                let driver = try await Driver.make(conn)
                let a = try await driver.store.start("pair", as: "admin").runID
                let b = try await driver.store.start("pair", as: "admin").runID
                let firsts = try await driver.claim()
                #expect(Set(firsts.map(\.runID)) == [a, b], "no limit yet: both runs start")
                #expect(try await workflows.limits("pair").activeRuns == 0, "slots are counted for limited workflows only")

                _ = try await workflows.setLimits("pair", maxRuns: 2, maxNodes: nil, as: "admin")
                #expect(try await workflows.limits("pair").activeRuns == 2)
                let c = try await driver.store.start("pair", as: "admin").runID
                try await complete(driver, firsts)
                let seconds = try await driver.claim()
                #expect(Set(seconds.map(\.runID)) == [a, b], "both slots are held by the runs started before the limit; run \(c) waits")
                try await complete(driver, seconds)
                #expect(try await workflows.limits("pair").activeRuns == 0, "a finished run gives its slot back")
                let third = try await driver.claim()
                #expect(third.map(\.runID) == [c])
                #expect(try await workflows.limits("pair").activeRuns == 1)
            }
        }
    }

    @Test func concurrentClaimersShareOneBudget() async throws {
        try await TestDatabase.withMigrated { db in
            let (first, second) = try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: Self.fanOut("shared", leaves: 6), as: "admin")
                _ = try await workflows.setLimits("shared", maxRuns: nil, maxNodes: 2, as: "admin")
                let driver = try await Driver.make(conn)
                _ = try await driver.store.start("shared", as: "admin")
                try await complete(driver, try await driver.claim())  // the root: 6 leaves ready
                return (try await Driver.make(conn, name: "one"), try await Driver.make(conn, name: "two"))
            }
            try await db.withConnection { one in
                try await db.withConnection { two in
                    let a = Driver(store: RunStore(connection: one), scheduling: SchedulerStore(connection: one), scheduler: first.scheduler)
                    let b = Driver(store: RunStore(connection: two), scheduling: SchedulerStore(connection: two), scheduler: second.scheduler)
                    // The first claimer holds its uncommitted claim while the second claims:
                    // the second gets nothing (it skips the rows the first holds, or waits for
                    // the workflow's lock and then sees both slots taken).
                    let waiter = try await two.backendPID()
                    let finished = Flag()
                    let contender = try await one.withTransaction { _ in
                        #expect(try await a.claim().count == 2)
                        let contender = Task {
                            defer { finished.set() }
                            return try await b.claim().count
                        }
                        // The second claim has either returned (it skipped what the first holds)
                        // or is blocked on the workflow's lock — never racing the commit below.
                        try await db.withConnection { watcher in
                            try await waitUntil(timeout: .seconds(30), "the second claim to return or wait for the lock") {
                                if finished.isSet { return true }
                                return try await watcher.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                                                              [Int(waiter)]).single().decode("n", as: Int.self) == 1
                            }
                        }
                        return contender
                    }
                    #expect(try await contender.value == 0, "both slots are held by the first claimer")
                    #expect(try await WorkflowStore(connection: two).limits("shared").runningNodes == 2)
                }
            }
        }
    }

    @Test func refusesBadLimitsAndOutsiders() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: Self.pair, as: "admin")
                _ = try await PrincipalStore(connection: conn).create("mallory", as: "admin")
                for (runs, nodes, fragment) in [(0, nil, "runs must be at least 1, got 0"), (nil, -2, "nodes must be at least 1, got -2")] as [(Int?, Int?, String)] {
                    let error = await #expect(throws: PGError.self) {
                        _ = try await workflows.setLimits("pair", maxRuns: runs, maxNodes: nodes, as: "admin")
                    }
                    #expect(error?.sqlState == "22023")
                    #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
                }
                let outsider = await #expect(throws: PGError.self) {
                    _ = try await workflows.setLimits("pair", maxRuns: 1, maxNodes: 1, as: "mallory")
                }
                #expect(outsider?.sqlState == "42501")
                let unknown = await #expect(throws: PGError.self) {
                    _ = try await workflows.setLimits("nope", maxRuns: 1, maxNodes: 1, as: "admin")
                }
                #expect(unknown?.sqlState == "TR404")
                let limits = try await workflows.limits("pair")
                #expect(limits.maxConcurrentRuns == nil && limits.maxConcurrentNodes == nil, "nothing was changed")
            }
        }
    }
}

/// A one-way flag a task sets when it is done (checked from another task).
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
