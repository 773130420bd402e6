import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// The error a background task stopped with, if any.
final class Failure: Sendable {
    private let stored = Mutex<(any Error)?>(nil)
    func record(_ error: any Error) { stored.withLock { $0 = error } }
    var error: (any Error)? { stored.withLock { $0 } }
}

/// A scheduler logged in as a `trellis_scheduler` member: it runs workflows end to end
/// through the scheduler functions, and can do nothing else.
@Suite("Scheduler role")
struct SchedulerRoleTests {
    @Test func aSchedulerLoginRunsWorkflowsAndNothingElse() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withLogin(inRole: "trellis_scheduler") { schedulerURL in
                let (flaky, approval) = try await db.withConnection { conn in
                    _ = try await Seeder(connection: conn).load(as: "admin")
                    let runs = RunStore(connection: conn)
                    return (try await runs.start("flaky-enrich", input: #"{"record": "r-1"}"#, as: "admin").runID,
                            try await runs.start("fan-out-fan-in", input: #"{"topic": "roles"}"#, as: "admin").runID)
                }
                var options = SchedulerOptions(name: "least-privilege")
                options.pollInterval = .milliseconds(50)
                let scheduler = Scheduler(databaseURL: schedulerURL, registry: .builtIn, options: options)
                let failure = Failure()
                let running = Task {
                    do { return try await scheduler.run() } catch { failure.record(error); throw error }
                }
                try await db.withConnection { conn in
                    try await waitUntil(timeout: .seconds(60), "both runs finish") {
                        if let error = failure.error { throw error }  // fail fast: e.g. 42501 at registration
                        let runs = RunStore(connection: conn)
                        let first = try await runs.run(flaky).finishedAt
                        let second = try await runs.run(approval).finishedAt
                        return first != nil && second != nil
                    }
                    #expect(try await RunStore(connection: conn).run(flaky).status == "succeeded")
                    #expect(try await RunStore(connection: conn).run(approval).status == "succeeded")
                    // Retries went through fail_nodes; every attempt was recorded.
                    let attempts = try await conn.query("SELECT count(*) AS n FROM trellis.node_attempts WHERE run_id = $1::uuid", [flaky])
                        .single().decode("n", as: Int.self)
                    #expect(attempts > 1)
                }
                scheduler.requestStop()
                let summary = try await running.value
                #expect(summary.succeeded > 0 && summary.failed > 0 && summary.refused == 0)

                try await PGConnection.withConnection(schedulerURL) { sched in
                    let refused = [
                        "SELECT * FROM trellis.node_runs",
                        "SELECT * FROM trellis.run_events",
                        "UPDATE trellis.workflow_runs SET priority = 9",
                        "DELETE FROM trellis.run_events",
                        "SELECT * FROM trellis.api_tokens",
                        "SELECT trellis.start_run('linear-pipeline', '{}', 'admin', '{}')",
                        "SELECT trellis.cancel_run(gen_random_uuid(), 'admin', 'x')",
                        "SELECT trellis.decide_approval(gen_random_uuid(), 'approve', 'admin', NULL)",
                        "SELECT * FROM trellis.run_history",
                    ]
                    for statement in refused {
                        let error = await #expect(throws: PGError.self, "\(statement)") { try await sched.query(statement) }
                        #expect(error?.sqlState == "42501", "\(statement): \(String(describing: error))")
                    }
                }
            }
        }
    }
}
