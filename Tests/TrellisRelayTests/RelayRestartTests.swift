import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// The relay and a scheduler across a database restart, on a cluster of the test's own.
@Suite("Push relay across a database restart")
struct RelayRestartTests {
    @Test func eventsProducedAroundARestartAreAllDelivered() async throws {
        try await PrivateCluster.with { cluster in
            try await PGConnection.withConnection(cluster.url) { conn in
                let slow = """
                    {"name": "restartable", "nodes": [
                      {"key": "a", "kind": "tool_call", "handler": "sleep", "config": {"ms": 300}},
                      {"key": "b", "kind": "tool_call", "handler": "sleep", "config": {"ms": 1500, "steps": 3},
                       "retry": {"max_attempts": 5, "initial_delay": "100ms"}},
                      {"key": "c", "kind": "tool_call", "handler": "sleep", "config": {"ms": 300}}],
                     "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: slow, as: "admin")
            }
            try await RelayHarness.with(cluster.url, configure: { $0.safetyPoll = .milliseconds(200) }) { relay in
                let token = try await relay.token(for: "admin")
                var options = SchedulerOptions(name: "restart-test")
                options.pollInterval = .milliseconds(100)
                options.leaseSeconds = 5
                let scheduler = Scheduler(databaseURL: cluster.url, registry: .builtIn, options: options)
                let schedulerTask = Task { try await scheduler.run() }
                defer { scheduler.requestStop() }

                let started = try await relay.request("POST", "/v1/workflows/restartable/runs", token: token, body: "{}")
                let run = try #require(try started.json()["run_id"]?.stringValue)
                let client = Task {
                    try await relay.webSocket(token: token, send: [#"{"op": "subscribe", "run_id": "\#(run)"}"#]) {
                        $0.contains { $0.contains(#""type": "end""#) }
                    }
                }
                // Restart the server while node b runs.
                try await waitUntil(timeout: .seconds(30), "node b to start") {
                    try await PGConnection.withConnection(cluster.url) { conn in
                        try await conn.query("SELECT count(*) AS n FROM trellis.node_runs WHERE node_key = 'b' AND status = 'running'")
                            .single().decode("n", as: Int.self) == 1
                    }
                }
                #expect(try cluster.cluster.stop(immediate: false))
                try await Task.sleep(for: .milliseconds(700))
                _ = try await cluster.cluster.start()

                // Bounded wait: a stuck stream fails the test with the state, never hangs it.
                let watchdog = Task {
                    try await Task.sleep(for: .seconds(60))
                    client.cancel()
                }
                let outcome = await client.result
                watchdog.cancel()
                let state = try await PGConnection.withConnection(cluster.url) { conn in
                    try await conn.query("SELECT status FROM trellis.workflow_runs WHERE id = $1::uuid", [run]).single().decode("status", as: String.self)
                }
                guard case .success(let messages) = outcome else {
                    scheduler.requestStop()
                    let summary = await schedulerTask.result
                    Issue.record("the client did not get the whole stream; run is \(state); scheduler: \(summary)")
                    return
                }
                scheduler.requestStop()
                _ = try? await schedulerTask.value
                let stored = try await PGConnection.withConnection(cluster.url) { conn in
                    try await RunStore(connection: conn).events(of: UUID(uuidString: run)!)
                }
                let seqs = try messages.envelopes().compactMap { $0["seq"]?.doubleValue }.map { Int64($0) }
                #expect(seqs == stored.map(\.seq), "every event, once, in order, across the restart")
                #expect(stored.last?.type == "run.finished")
                #expect(try decode(messages.last!)["type"] == .string("end"))
            }
        }
    }
}
