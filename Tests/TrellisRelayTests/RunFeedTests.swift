import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The run feed (PROTOCOL.md "Feeds beyond one run") over SSE and WebSocket: lifecycle
/// events of many runs, filtered by privilege, resumable by cursor with nothing missed or
/// repeated — including across a transaction that commits after a later one. The tests that
/// wait for live events run on clusters of their own: the feed waits for the cluster's oldest
/// open transaction, and other suites' tests hold some open.
@Suite("Run feed")
struct RunFeedTests {
    func envelope(_ event: SSEStream.Event) throws -> [String: JSONValue] {
        try JSONDecoder().decode([String: JSONValue].self, from: Data(event.data.utf8))
    }

    func seeded(_ db: TestDatabase) async throws {
        try await db.withConnection { conn in
            _ = try await Seeder(connection: conn).load(as: "admin")
            _ = try await PrincipalStore(connection: conn).create("viewer", as: "admin")
            _ = try await PrincipalStore(connection: conn).grant("view", on: "linear-pipeline", to: "viewer", as: "admin")
        }
    }

    @Test func everyLifecycleEventArrivesOnceInOrderAndResumesFromAnyCursor() async throws {
        try await TestDatabase.withOwnCluster { db in
            try await seeded(db)
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin"), viewer = try await relay.token(for: "viewer")
                let all = try SSEStream(port: relay.port, path: "/v1/events", token: admin)
                let mine = try SSEStream(port: relay.port, path: "/v1/events", token: viewer)
                let one = try SSEStream(port: relay.port, path: "/v1/events?workflow=fan-out-fan-in", token: admin)
                for stream in [all, mine, one] { try await stream.wait("hello") { $0.first?.event == "hello" } }
                #expect(all.status == 200)

                var runs: [String] = []
                for workflow in ["linear-pipeline", "fan-out-fan-in", "linear-pipeline"] {
                    let reply = try await relay.request("POST", "/v1/workflows/\(workflow)/runs", token: admin, body: #"{"input": {"topic": "t"}}"#)
                    runs.append(try #require(try reply.json()["run_id"]?.stringValue))
                }
                _ = try await RelayHarness.withScheduler(db.url) {
                    // queued, started and finished for each of the three runs.
                    try await all.wait("nine lifecycle events") { $0.filter { $0.event.hasPrefix("run.") }.count >= 9 }
                }
                let events = all.events.filter { $0.event.hasPrefix("run.") }
                #expect(events.count == 9, "\(events.map(\.event))")
                for run in runs {
                    let types = try events.filter { try envelope($0)["run_id"] == .string(run) }.map(\.event)
                    #expect(types == ["run.queued", "run.started", "run.finished"], "\(run): \(types)")
                }
                let cursors = events.compactMap(\.id)
                #expect(cursors.count == 9 && Set(cursors).count == 9)
                #expect(try events.allSatisfy { try envelope($0)["cursor"]?.stringValue == $0.id && envelope($0)["workflow"] != nil })
                #expect(try events.allSatisfy { try envelope($0)["replayed"] == nil })

                // The viewer sees linear-pipeline's two runs only; the filtered feed fan-out's one.
                try await mine.wait("six events of linear-pipeline") { $0.filter { $0.event.hasPrefix("run.") }.count >= 6 }
                #expect(try mine.events.filter { $0.event.hasPrefix("run.") }.allSatisfy { try envelope($0)["workflow"] == .string("linear-pipeline") })
                try await one.wait("three events of fan-out-fan-in") { $0.filter { $0.event.hasPrefix("run.") }.count >= 3 }
                #expect(try one.events.filter { $0.event.hasPrefix("run.") }.allSatisfy { try envelope($0)["run_id"] == .string(runs[1]) })

                // Resume after the fourth: the other five, replayed, none twice.
                let resumed = try SSEStream(port: relay.port, path: "/v1/events", token: admin, headers: ["Last-Event-ID": cursors[3]])
                try await resumed.wait("the five after the cursor") { $0.filter { $0.event.hasPrefix("run.") }.count >= 5 }
                let again = resumed.events.filter { $0.event.hasPrefix("run.") }
                #expect(again.compactMap(\.id) == Array(cursors[4...]))
                #expect(try again.allSatisfy { try envelope($0)["replayed"] == .bool(true) })
                for stream in [all, mine, one, resumed] { stream.close() }
            }
        }
    }

    @Test func aLaterCommitWaitsForAnEarlierOpenTransactionSoNoCursorSkipsIt() async throws {
        try await TestDatabase.withOwnCluster { db in
            try await seeded(db)
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin")
                let feed = try SSEStream(port: relay.port, path: "/v1/events", token: admin)
                try await feed.wait("hello") { $0.first?.event == "hello" }
                // T1 starts a run and stays open; T2 starts one and commits.
                let early = try await PGConnection.connect(db.url)
                _ = try await early.query("BEGIN")
                let first: UUID = try await RunStore(connection: early).start("linear-pipeline", as: "admin").runID
                let second = try await db.withConnection { try await RunStore(connection: $0).start("linear-pipeline", as: "admin").runID }
                // T2 is committed, yet the feed shows nothing: T2's event sorts after T1's, which
                // may still commit. Read straight from the database, no waiting involved.
                let start = try #require(try JSONDecoder().decode([String: JSONValue].self, from: Data(feed.events[0].data.utf8))["cursor"]?.stringValue)
                let visible = try await db.withConnection { try await APIStore(connection: $0).feed(after: start, workflow: nil, as: "admin") }
                #expect(visible.isEmpty, "\(visible)")
                #expect(feed.events.filter { $0.event.hasPrefix("run.") }.isEmpty, "\(feed.events.map(\.data))")
                _ = try await early.query("COMMIT")
                await early.close()
                let events = try await feed.wait("both runs queued") { $0.filter { $0.event == "run.queued" }.count >= 2 }
                let order = try events.filter { $0.event == "run.queued" }.map { try envelope($0)["run_id"]?.stringValue }
                #expect(order == [first.uuidString.lowercased(), second.uuidString.lowercased()])
                feed.close()
            }
        }
    }

    @Test func badCursorsAndForeignWorkflowsAreRefusedAndTheWebSocketFollowsTheFeed() async throws {
        try await TestDatabase.withOwnCluster { db in
            try await seeded(db)
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin"), viewer = try await relay.token(for: "viewer")
                let bad = try await relay.request("GET", "/v1/events?after=yesterday", token: admin)
                #expect(bad.status == 400 && bad.body.contains("cursor"), "\(bad.body)")
                #expect(try await relay.request("GET", "/v1/events?workflow=fan-out-fan-in", token: viewer).status == 403)
                #expect(try await relay.request("GET", "/v1/events?workflow=nope", token: admin).status == 404)
                #expect(try await relay.request("GET", "/v1/events", token: nil).status == 401)

                let messages = try await relay.webSocket(token: viewer, send: [
                    #"{"op": "subscribe_runs", "id": 1, "workflow": "fan-out-fan-in"}"#,
                    #"{"op": "subscribe_runs", "id": 2, "after": 5}"#,
                    #"{"op": "subscribe_runs", "id": 3}"#,
                    #"{"op": "subscribe_runs", "id": 4}"#,
                ]) { received in received.contains { $0.contains(#""id": 4"#) } }
                let replies = try messages.map(decode)
                #expect(replies.first { $0["id"] == .number(1) }?["code"] == .string("forbidden"), "\(messages)")
                #expect(replies.first { $0["id"] == .number(2) }?["code"] == .string("invalid_input"))
                #expect(replies.contains { $0["type"] == .string("hello") && $0["feed"] == .string("runs") })
                #expect(replies.first { $0["id"] == .number(3) }?["type"] == .string("ack"))
                #expect(replies.first { $0["id"] == .number(4) }?["code"] == .string("already_subscribed"))

                // A live WebSocket feed delivers a run started after it subscribed.
                // The first reply (hello) fixes the starting cursor; a run started then is after it.
                let live = try await relay.webSocket(token: viewer, send: [#"{"op": "subscribe_runs", "id": 1}"#], revokeAfterFirst: {
                    _ = try await relay.request("POST", "/v1/workflows/linear-pipeline/runs", token: admin, body: "{}")
                }, then: []) { received in received.contains { $0.contains("run.queued") } }
                let queued = try live.map(decode).first { $0["type"] == .string("run.queued") }
                #expect(queued?["workflow"] == .string("linear-pipeline") && queued?["cursor"]?.stringValue?.isEmpty == false, "\(live)")
            }
        }
    }

    @Test func aCursorWhoseRunWasPrunedGetsResetCursorExpired() async throws {
        try await TestDatabase.withMigrated { db in
            try await seeded(db)
            let cursor = try await db.withConnection { conn in
                let runs = RunStore(connection: conn)
                let old = try await runs.start("linear-pipeline", as: "admin").runID
                _ = try await runs.control(.cancel, run: old, as: "admin")
                _ = try await runs.start("linear-pipeline", as: "admin")
                // Wait out transactions still open elsewhere on the cluster (xmin is cluster-wide).
                var rows: [APIStore.FeedRow] = []
                try await waitUntil(timeout: .seconds(30), "the old run in the feed") {
                    rows = try await APIStore(connection: conn).feed(after: "0:00000000-0000-0000-0000-000000000000:0", workflow: nil, as: "admin")
                    return rows.contains { $0.runID == old && $0.type == "run.finished" }
                }
                let cursor = try #require(rows.last { $0.runID == old }?.cursor)
                // What retention does to a finished run: the run and its events go.
                _ = try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1", [old])
                return cursor
            }
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin")
                let sse = try await relay.request("GET", "/v1/events", token: admin, headers: ["Last-Event-ID": cursor])
                #expect(sse.status == 200 && sse.body.contains("event: reset") && sse.body.contains(#""reason": "cursor_expired""#), "\(sse.body)")
                let messages = try await relay.webSocket(token: admin, send: [#"{"op": "subscribe_runs", "id": 1, "after": "\#(cursor)"}"#]) { received in
                    received.contains { $0.contains("reset") }
                }
                #expect(messages.contains { $0.contains(#""reason": "cursor_expired""#) }, "\(messages)")
                // Without a cursor the feed works as ever.
                let fresh = try SSEStream(port: relay.port, path: "/v1/events", token: admin)
                try await fresh.wait("hello") { $0.first?.event == "hello" }
                fresh.close()
            }
        }
    }
}
