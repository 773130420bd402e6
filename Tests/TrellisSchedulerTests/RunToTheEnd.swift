import Foundation
import Testing
import TrellisPQ
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// A run finished by an in-process scheduler: its status and its nodes by key.
struct FinishedRun {
    var status: String
    var nodes: [String: RunStore.NodeRun]

    /// The nodes' errors, for expectation messages.
    var errors: [String: String] { nodes.mapValues { $0.error?.text ?? "" } }
}

/// Runs a scheduler with `registry` (polling every 50 ms) until `run` finishes, stops it,
/// and reads the run back.
func runToTheEnd(_ db: TestDatabase, _ run: UUID, registry: HandlerRegistry, name: String,
                 timeout: Duration = .seconds(60)) async throws -> FinishedRun {
    var options = SchedulerOptions(name: name)
    options.pollInterval = .milliseconds(50)
    let scheduler = Scheduler(databaseURL: db.url, registry: registry, options: options)
    let running = Task { try await scheduler.run() }
    do {
        return try await db.withConnection { conn in
            let runs = RunStore(connection: conn)
            try await waitUntil(timeout: timeout, "run \(run) to finish") { try await runs.run(run).finishedAt != nil }
            scheduler.requestStop()
            _ = try await running.value
            return FinishedRun(status: try await runs.run(run).status,
                               nodes: Dictionary(uniqueKeysWithValues: try await runs.nodes(of: run).map { ($0.key, $0) }))
        }
    } catch {
        scheduler.requestStop()
        _ = try? await running.value
        throw error
    }
}
