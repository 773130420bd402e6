import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The run snapshot and node detail as the API serves them: the graph, each node's level
/// and last progress report, the run's progress figure, and a node's attempts and logs —
/// driven through the scheduler's own SQL calls, step by step.
@Suite("Run snapshot")
struct RunSnapshotTests {
    func document(_ json: PGJSON) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(json.text.utf8)) }

    @Test func progressCountsFinishedNodesAndTheRunningNodesLastReport() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let run = try await RunStore(connection: conn).start("linear-pipeline", input: #"{"record": {"id": 1}}"#, as: "admin").runID
            let api = APIStore(connection: conn), store = SchedulerStore(connection: conn)
            let scheduler = try await store.registerScheduler(name: "snap", handlers: ["echo"])

            var snapshot = try document(try await api.snapshot(of: run, as: "admin"))
            #expect(snapshot["progress"] == .object(["percent": .number(0), "finished": .number(0), "total": .number(3)]))
            #expect(snapshot["graph"]?["levels"] == .number(3))
            #expect(snapshot["graph"]?["edges"]?[0] == .object(["from": .string("extract"), "to": .string("transform")]))

            // extract claimed, reports 40 % then 50 % and two log lines: the run is at 50/3 %.
            let claim = try #require(try await store.claim(scheduler: scheduler, handlers: ["echo"], max: 10).first)
            _ = try await store.reportProgress(scheduler: scheduler, [
                .init(id: claim.nodeRunID, attempt: claim.attempt, kind: "progress", percent: 40, message: "reading"),
                .init(id: claim.nodeRunID, attempt: claim.attempt, kind: "log", logKind: "log", body: "first line"),
                .init(id: claim.nodeRunID, attempt: claim.attempt, kind: "progress", percent: 50, message: "half"),
                .init(id: claim.nodeRunID, attempt: claim.attempt, kind: "log", logKind: "thinking", body: "second line"),
            ])
            snapshot = try document(try await api.snapshot(of: run, as: "admin"))
            #expect(snapshot["progress"]?["percent"] == .number(16.7), "\(String(describing: snapshot["progress"]))")
            let extract = snapshot["nodes"]?[0]
            #expect(extract?["node_key"] == .string("extract") && extract?["level"] == .number(0))
            #expect(extract?["progress"] == .object(["percent": .number(50), "message": .string("half")]))
            #expect(snapshot["nodes"]?[2]?["level"] == .number(2) && snapshot["nodes"]?[2]?["progress"] == nil)

            // The node's detail: its last log lines (oldest first, cut to the count asked).
            let detail = try document(try await api.node("extract", of: run, logs: 1, as: "admin"))
            #expect(detail["status"] == .string("running") && detail["progress"]?["percent"] == .number(50))
            #expect(detail["logs"]?[0]?["body"] == .string("second line") && detail["logs"]?[1] == nil, "\(detail)")
            let both = try document(try await api.node("extract", of: run, logs: 10, as: "admin"))
            #expect(both["logs"]?[0]?["body"] == .string("first line") && both["logs"]?[1]?["kind"] == .string("thinking"))
            #expect(both["attempt_history"]?[0]?["outcome"] == .string("running") && both["claimed_by"] == .string("snap"))

            // Finished: its report no longer counts as partial; one of three is done.
            _ = try await store.complete(scheduler: scheduler, [.init(id: claim.nodeRunID, attempt: claim.attempt, output: .object(["ok": .bool(true)]))])
            snapshot = try document(try await api.snapshot(of: run, as: "admin"))
            #expect(snapshot["progress"]?["percent"] == .number(33.3) && snapshot["progress"]?["finished"] == .number(1))
            #expect(snapshot["nodes"]?[0]?["progress"] == nil && snapshot["nodes"]?[0]?["output"]?["ok"] == .bool(true))

            // A cancelled run is finished: every node terminal, 100 %.
            _ = try await RunStore(connection: conn).control(.cancel, run: run, as: "admin")
            snapshot = try document(try await api.snapshot(of: run, as: "admin"))
            #expect(snapshot["status"] == .string("cancelled") && snapshot["progress"]?["percent"] == .number(100), "\(snapshot)")
        }
    }
}
