import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// The relay against a real PostgreSQL, on 127.0.0.1, with real HTTP and WebSocket clients.
@Suite("Push relay")
struct RelayTests {
    func withScheduler<T: Sendable>(_ url: String, _ body: () async throws -> T) async throws -> T {
        try await RelayHarness.withScheduler(url, body)
    }

    func events(_ url: String, _ run: String) async throws -> [(seq: Int64, type: String)] {
        try await PGConnection.withConnection(url) { conn in
            try await RunStore(connection: conn).events(of: UUID(uuidString: run)!).map { ($0.seq, $0.type) }
        }
    }

    func runCount(_ url: String) async throws -> Int {
        try await PGConnection.withConnection(url) { try await $0.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n") }
    }

    @Test func httpControlAPIChecksEveryTokenAndPrivilege() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let principals = PrincipalStore(connection: conn)
                for name in ["viewer", "runner", "nobody", "gone"] { _ = try await principals.create(name, as: "admin") }
                for (privilege, workflow, principal) in [("view", "linear-pipeline", "viewer"), ("run", "linear-pipeline", "runner"),
                                                         ("run", "human-approval", "runner")] {
                    _ = try await principals.grant(privilege, on: workflow, to: principal, as: "admin")
                }
            }
            try await RelayHarness.with(db.url, configure: { $0.maxBody = 2048 }) { relay in
                let admin = try await relay.token(for: "admin")
                let viewer = try await relay.token(for: "viewer")
                let runner = try await relay.token(for: "runner")
                let nobody = try await relay.token(for: "nobody")
                let revoked = try await relay.token(for: "gone")
                let expired = try await relay.token(for: "gone")
                try await db.withConnection { conn in
                    _ = try await TokenStore(connection: conn).revoke(String(revoked.prefix(12)), as: "admin")
                    try await conn.query("UPDATE trellis.api_tokens SET expires_at = now() - interval '1 second' WHERE prefix = $1", [String(expired.prefix(12))])
                }

                // Start: 202 with the URLs to follow.
                let started = try await relay.request("POST", "/v1/workflows/linear-pipeline/runs", token: runner,
                                                      body: #"{"input": {"record": {"id": 1}}, "priority": 3}"#)
                #expect(started.status == 202, "\(started.body)")
                let body = try started.json()
                let run = try #require(body["run_id"]?.stringValue)
                #expect(body["status"] == .string("queued"))
                #expect(body["events_url"] == .string("/v1/runs/\(run)/events"))
                let before = try await runCount(db.url)

                // Every refusal: status, code, and nothing written.
                let refusals: [(String, String, String?, String?, Int, String)] = [
                    ("POST", "/v1/workflows/linear-pipeline/runs", nil, "{}", 401, "unauthorized"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", "trl_00000000_forged", "{}", 401, "unauthorized"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", revoked, "{}", 401, "unauthorized"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", expired, "{}", 401, "unauthorized"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", nobody, "{}", 403, "forbidden"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", viewer, "{}", 403, "forbidden"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", runner, "{not json", 400, "invalid_json"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", runner, "[1]", 400, "invalid_json"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", runner, #"{"inputs": {}}"#, 400, "invalid_input"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", runner, #"{"input": [1]}"#, 400, "invalid_input"),
                    ("POST", "/v1/workflows/linear-pipeline/runs", runner, #"{"input": {"x": ""#
                        + String(repeating: "y", count: 4096) + #""}}"#, 413, "too_large"),
                    ("POST", "/v1/workflows/nope/runs", admin, "{}", 404, "not_found"),
                    ("GET", "/v1/runs/\(run)", nobody, nil, 403, "forbidden"),
                    ("GET", "/v1/runs/\(UUID().uuidString)", admin, nil, 404, "not_found"),
                    ("GET", "/v1/runs/not-a-uuid", admin, nil, 400, "invalid_input"),
                    ("GET", "/v1/workflows/linear-pipeline/runs?limit=lots", admin, nil, 400, "invalid_input"),
                    ("GET", "/v1/workflows/linear-pipeline/runs?status=sleeping", admin, nil, 400, "invalid_input"),
                    ("POST", "/v1/runs/\(run)/cancel", viewer, nil, 403, "forbidden"),
                    ("POST", "/v1/runs/\(run)/explode", admin, nil, 404, "not_found"),
                    ("POST", "/v1/runs/\(run)/retry", runner, nil, 409, "conflict"),
                    ("POST", "/v1/runs/\(run)/retry", viewer, nil, 403, "forbidden"),
                    ("POST", "/v1/runs/\(run)/retry", runner, #"{"mode": "sideways"}"#, 400, "invalid_input"),
                    ("POST", "/v1/runs/\(run)/retry", runner, #"{"mode": "all", "extra": 1}"#, 400, "invalid_input"),
                    ("POST", "/v1/runs/\(UUID().uuidString)/retry", admin, nil, 404, "not_found"),
                    ("GET", "/v1/approvals?status=maybe", admin, nil, 400, "invalid_input"),
                ]
                for (method, path, token, payload, status, code) in refusals {
                    let reply = try await relay.request(method, path, token: token, body: payload)
                    #expect(reply.status == status, "\(method) \(path): \(reply.status) \(reply.body)")
                    #expect(reply.errorCode == code, "\(method) \(path): \(reply.body)")
                    #expect(reply.headers["content-type"] == "application/json")
                }
                // Every endpoint, every bad token: 401 before anything is read or written.
                let endpoints: [(String, String, String?)] = [
                    ("POST", "/v1/workflows/linear-pipeline/runs", "{}"), ("GET", "/v1/runs/\(run)", nil),
                    ("GET", "/v1/workflows/linear-pipeline/runs", nil), ("POST", "/v1/runs/\(run)/cancel", nil),
                    ("POST", "/v1/runs/\(run)/pause", nil), ("POST", "/v1/runs/\(run)/resume", nil),
                    ("POST", "/v1/runs/\(run)/retry", nil),
                    ("GET", "/v1/approvals", nil), ("POST", "/v1/approvals/\(UUID().uuidString)", #"{"decision": "approve"}"#),
                    ("GET", "/v1/runs/\(run)/events", nil), ("GET", "/v1/ws", nil),
                ]
                for (method, path, payload) in endpoints {
                    for token in [nil, "trl_00000000_forged", revoked, expired] {
                        let reply = try await relay.request(method, path, token: token, body: payload)
                        #expect(reply.status == 401, "\(method) \(path) with \(token.map { String($0.prefix(12)) } ?? "no token"): \(reply.status)")
                    }
                }
                #expect(try await runCount(db.url) == before, "refused requests wrote nothing")
                let stillQueued = try await relay.request("GET", "/v1/runs/\(run)", token: admin)
                #expect(try stillQueued.json()["status"] == .string("queued"), "refused control changed nothing")
                let wrongScheme = try await relay.request("GET", "/v1/approvals", token: nil, headers: ["Authorization": "Basic YTpi"])
                #expect(wrongScheme.status == 401)

                // Reads.
                let snapshot = try await relay.request("GET", "/v1/runs/\(run)", token: viewer)
                #expect(snapshot.status == 200)
                let state = try snapshot.json()
                #expect(state["status"] == .string("queued"))
                #expect(state["last_seq"] == .number(1))
                #expect(state["summary"]?["nodes"]?["pending"] == .number(2))
                let listed = try await relay.request("GET", "/v1/workflows/linear-pipeline/runs?status=queued&limit=5", token: viewer)
                #expect(try listed.json()["runs"]?[0]?["run_id"] == .string(run))

                // Control: pause, resume, cancel, then 409 on the finished run.
                for (operation, status) in [("pause", "paused"), ("resume", "queued"), ("cancel", "cancelled")] {
                    let reply = try await relay.request("POST", "/v1/runs/\(run)/\(operation)", token: runner)
                    #expect(reply.status == 202, "\(operation): \(reply.body)")
                    #expect(try reply.json()["status"] == .string(status), "\(operation): \(reply.body)")
                }
                let again = try await relay.request("POST", "/v1/runs/\(run)/cancel", token: runner)
                #expect(again.status == 409)
                #expect(again.errorCode == "conflict")

                // Approvals: the runner starts a gated run, the admin decides it.
                let gated = try await relay.request("POST", "/v1/workflows/human-approval/runs", token: runner,
                                                    body: #"{"input": {"version": "2.0", "notes": "n"}}"#)
                let gatedRun = try #require(try gated.json()["run_id"]?.stringValue)
                let approval = try await withScheduler(db.url) { () -> String in
                    var found: String?
                    try await waitUntil(timeout: .seconds(30), "the approval to open") {
                        let list = try await relay.request("GET", "/v1/approvals", token: admin)
                        found = try list.json()["approvals"]?[0]?["approval_id"]?.stringValue
                        return found != nil
                    }
                    return found!
                }
                let badDecision = try await relay.request("POST", "/v1/approvals/\(approval)", token: admin, body: #"{"decision": "maybe"}"#)
                #expect(badDecision.status == 400)
                let selfApproval = try await relay.request("POST", "/v1/approvals/\(approval)", token: runner, body: #"{"decision": "approve"}"#)
                #expect(selfApproval.status == 403)
                let decided = try await relay.request("POST", "/v1/approvals/\(approval)", token: admin,
                                                      body: #"{"decision": "approve", "comment": "ok"}"#)
                #expect(decided.status == 200, "\(decided.body)")
                #expect(try decided.json()["status"] == .string("approved"))
                let twice = try await relay.request("POST", "/v1/approvals/\(approval)", token: admin, body: #"{"decision": "reject"}"#)
                #expect(twice.status == 409)
                _ = gatedRun

                // Unauthenticated endpoints.
                let health = try await relay.request("GET", "/healthz", token: nil)
                #expect(health.status == 200)
                let metrics = try await relay.request("GET", "/metrics", token: nil)
                #expect(metrics.body.contains("trellis_relay_request_duration_seconds_count"))
            }
        }
    }

    @Test func sseDeliversEveryEventOnceResumesAndEnds() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url) { relay in
                let (token, run) = try await relay.startFanOut()
                // The stream is open before any node runs; it ends after run.finished.
                let live = Task { try await relay.request("GET", "/v1/runs/\(run)/events", token: token) }
                try await relay.waitForClients(1)
                let reply = try await withScheduler(db.url) { try await live.value }
                #expect(reply.status == 200)
                #expect(reply.headers["content-type"] == "text/event-stream")
                #expect(reply.body.hasPrefix("retry: 2000\n\n"))
                let received = try RelayHarness.sse(reply.body)
                let stored = try await events(db.url, run)
                let delivered = received.filter { $0.event != "end" }
                #expect(delivered.map(\.id) == stored.map { Optional($0.seq) }, "every event once, in order")
                #expect(delivered.map(\.event) == stored.map(\.type))
                #expect(delivered.allSatisfy { $0.data["run_id"] == .string(run) && $0.data["v"] == .number(1) })
                #expect(received.last?.event == "end")
                #expect(stored.last?.type == "run.finished")

                // Resume from a cursor (header or query): exactly the rest.
                let resumed = try await relay.request("GET", "/v1/runs/\(run)/events", token: token, headers: ["Last-Event-ID": "5"])
                #expect(try RelayHarness.sse(resumed.body).compactMap(\.id) == stored.map(\.seq).filter { $0 > 5 })
                let after = try await relay.request("GET", "/v1/runs/\(run)/events?after=12", token: token)
                #expect(try RelayHarness.sse(after.body).compactMap(\.id) == stored.map(\.seq).filter { $0 > 12 })
                #expect(try RelayHarness.sse(after.body).allSatisfy { $0.event == "end" || $0.data["replayed"] == .bool(true) })
                // Fully delivered: 204.
                let done = try await relay.request("GET", "/v1/runs/\(run)/events", token: token, headers: ["Last-Event-ID": "\(stored.last!.seq)"])
                #expect(done.status == 204)

                let unknown = try await relay.request("GET", "/v1/runs/\(UUID().uuidString)/events", token: token)
                #expect(unknown.status == 404)
                let badCursor = try await relay.request("GET", "/v1/runs/\(run)/events?after=x", token: token)
                #expect(badCursor.status == 400)
                let anonymous = try await relay.request("GET", "/v1/runs/\(run)/events", token: nil)
                #expect(anonymous.status == 401)
            }
        }
    }

    @Test func idleSSEStreamGetsHeartbeatsThenTheRest() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url) { relay in
                let (token, run) = try await relay.startFanOut()
                // No scheduler until the idle stream has sent a heartbeat comment.
                let stream = try SSEStream(port: relay.port, path: "/v1/runs/\(run)/events", token: token)
                defer { stream.close() }
                try await waitUntil(timeout: .seconds(30), "a heartbeat on the idle stream") { stream.heartbeats >= 1 }
                let received = try await withScheduler(db.url) {
                    try await stream.wait(timeout: .seconds(60), "the end of the stream") { $0.last?.event == "end" }
                }
                let stored = try await events(db.url, run)
                #expect(received.compactMap { $0.id.flatMap { Int64($0) } } == stored.map(\.seq), "heartbeats do not disturb the stream")
            }
        }
    }

    @Test func webSocketStreamsResumesControlsAndSurvivesBadInput() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                let slow = """
                    {"name": "slow-chain", "nodes": [{"key": "a", "kind": "tool_call", "handler": "sleep", "config": {"ms": 150, "steps": 3}},
                      {"key": "b", "kind": "tool_call", "handler": "sleep", "config": {"ms": 150, "steps": 3}},
                      {"key": "c", "kind": "tool_call", "handler": "sleep", "config": {"ms": 150, "steps": 3}}],
                     "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: slow, as: "admin")
            }
            try await RelayHarness.with(db.url) { relay in
                let token = try await relay.token(for: "admin")
                let started = try await relay.request("POST", "/v1/workflows/slow-chain/runs", token: token, body: "{}")
                let run = try #require(try started.json()["run_id"]?.stringValue)
                let (first, second) = try await withScheduler(db.url) { () -> ([String], [String]) in
                    // A client that leaves after six events…
                    let first = try await relay.webSocket(token: token, send: [#"{"op": "subscribe", "run_id": "\#(run)", "id": 1}"#]) {
                        (try? $0.envelopes().count) == 6
                    }
                    let cursor = try first.envelopes().last?["seq"]?.doubleValue ?? 0
                    // …and comes back with its cursor.
                    let second = try await relay.webSocket(
                        token: token, send: [#"{"op": "subscribe", "run_id": "\#(run)", "after": \#(Int(cursor))}"#]) {
                        $0.contains { $0.contains(#""type": "end""#) }
                    }
                    return (first, second)
                }
                let hello = try decode(first[0])
                #expect(hello["type"] == .string("hello"))
                #expect(try decode(first[1])["type"] == .string("ack"))
                #expect(try decode(first[1])["id"] == .number(1))
                let stored = try await events(db.url, run)
                let seqs = try (first.envelopes() + second.envelopes()).compactMap { $0["seq"]?.doubleValue }.map { Int64($0) }
                #expect(seqs == stored.map(\.seq), "the two sessions together: every event once, in order")
                #expect(stored.contains { $0.type == "node.progress" })
                #expect(try decode(second.last!)["type"] == .string("end"))
                // A client that dropped right after the last event resumes at it: the
                // stream ends at once instead of waiting for an event that will never come.
                let atEnd = try await relay.webSocket(
                    token: token, send: [#"{"op": "subscribe", "run_id": "\#(run)", "after": \#(stored.last!.seq)}"#]) {
                    $0.contains { $0.contains(#""type": "end""#) }
                }
                #expect(try atEnd.map(decode).map { $0["type"] } == [.string("hello"), .string("ack"), .string("end")])
                let finalHello = try decode(atEnd[0])
                #expect(finalHello["last_seq"] == .number(Double(stored.last!.seq)) && finalHello["run_status"] == .string("succeeded"),
                        "hello names where the log ends and how the run ended: \(finalHello)")

                // Bad input is answered, and the socket stays usable.
                let replies = try await relay.webSocket(token: token, send: [
                    "not json", #"{"op": "dance", "id": "a"}"#, #"{"op": "subscribe", "run_id": "nope", "id": "b"}"#,
                    #"{"op": "subscribe", "run_id": "\#(UUID().uuidString)", "id": "c"}"#,
                    #"{"op": "cancel", "run_id": "\#(run)", "id": "d"}"#, #"{"op": "ping", "id": "e"}"#,
                ]) { $0.count == 6 }
                let decoded = try replies.map(decode)
                #expect(decoded[0]["code"] == .string("invalid_json"))
                #expect(decoded[1]["code"] == .string("unknown_op") && decoded[1]["id"] == .string("a"))
                #expect(decoded[2]["code"] == .string("invalid_input"))
                #expect(decoded[3]["code"] == .string("not_found"))
                #expect(decoded[4]["code"] == .string("conflict"), "the run already finished: \(replies[4])")
                #expect(decoded[5]["type"] == .string("pong") && decoded[5]["id"] == .string("e"))

                // Control over the socket, and a refused upgrade without a token.
                let queued = try await relay.request("POST", "/v1/workflows/slow-chain/runs", token: token, body: "{}")
                let target = try #require(try queued.json()["run_id"]?.stringValue)
                let control = try await relay.webSocket(token: token, send: [
                    #"{"op": "pause", "run_id": "\#(target)", "id": 1}"#, #"{"op": "resume", "run_id": "\#(target)", "id": 2}"#,
                    #"{"op": "cancel", "run_id": "\#(target)", "id": 3}"#, #"{"op": "state", "run_id": "\#(target)", "id": 4}"#,
                ]) { $0.count == 4 }
                let acks = try control.map(decode)
                #expect(acks[0]["status"] == .string("paused"))
                #expect(acks[1]["status"] == .string("queued"))
                #expect(acks[2]["status"] == .string("cancelled"))
                #expect(acks[3]["run"]?["status"] == .string("cancelled"))
                await #expect(throws: (any Error).self) {
                    _ = try await relay.webSocket(token: nil, send: []) { _ in true }
                }

                // Decisions over the socket: a gated run started by another principal.
                try await db.withConnection { conn in
                    _ = try await PrincipalStore(connection: conn).create("author", as: "admin")
                    _ = try await PrincipalStore(connection: conn).grant("run", on: "human-approval", to: "author", as: "admin")
                }
                let author = try await relay.token(for: "author")
                var approvals: [String] = []
                for _ in 0..<2 {
                    let gated = try await relay.request("POST", "/v1/workflows/human-approval/runs", token: author,
                                                        body: #"{"input": {"version": "1", "notes": "n"}}"#)
                    #expect(gated.status == 202)
                }
                try await withScheduler(db.url) {
                    try await waitUntil(timeout: .seconds(30), "two approvals to open") {
                        let list = try await relay.request("GET", "/v1/approvals", token: token)
                        guard case .array(let items)? = try list.json()["approvals"] else { return false }
                        approvals = items.compactMap { $0["approval_id"]?.stringValue }
                        return approvals.count == 2
                    }
                }
                let decisions = try await relay.webSocket(token: token, send: [
                    #"{"op": "approve", "approval_id": "\#(approvals[0])", "comment": "ok", "id": 1}"#,
                    #"{"op": "reject", "approval_id": "\#(approvals[1])", "id": 2}"#,
                    #"{"op": "approve", "approval_id": "\#(approvals[1])", "id": 3}"#,
                ]) { $0.count == 3 }.map(decode)
                #expect(decisions[0]["status"] == .string("approved"))
                #expect(decisions[1]["status"] == .string("rejected"))
                #expect(decisions[2]["code"] == .string("conflict"), "already decided")
                let selfDecision = try await relay.webSocket(token: author, send: [
                    #"{"op": "approve", "approval_id": "\#(approvals[0])", "id": 9}"#,
                ]) { $0.count == 1 }.map(decode)
                #expect(selfDecision[0]["type"] == .string("error"))
            }
        }
    }

    @Test func hundredClientsAndASlowOneAllGetTheWholeStream() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            // A one-event buffer: every completion pushes two events at once (node.finished
            // and node.output), so every subscriber overflows and must resync from the log —
            // deterministically, not only when the slow one happens to fall behind (its
            // slowness is absorbed by the kernel's socket buffer, not the relay's queue).
            try await RelayHarness.with(db.url, configure: { $0.queueLimit = 1 }) { relay in
                let (token, run) = try await relay.startFanOut()
                let subscribe = [#"{"op": "subscribe", "run_id": "\#(run)"}"#]
                // Everyone subscribes before any node runs, so every client is live for
                // the whole run (not catching up from the log after it ended).
                let subscribed = Indices(), failed = Failures()
                let clients = Task { () -> [[String]] in
                    try await withThrowingTaskGroup(of: [String].self) { group in
                        for index in 0..<101 {
                            group.addTask {
                                do {
                                    return try await relay.webSocket(token: token, send: subscribe, pause: index == 100 ? .milliseconds(40) : .zero) {
                                        if $0.contains(where: { $0.contains(#""type": "ack""#) }) { subscribed.insert(index) }
                                        // A refusal (say, every pooled connection busy under a
                                        // loaded machine) would leave this client waiting for good.
                                        if let refusal = $0.first(where: { $0.contains(#""type": "error""#) }) {
                                            failed.record("client \(index): \(refusal)")
                                            return true
                                        }
                                        return $0.contains { $0.contains(#""type": "end""#) }
                                    }
                                } catch {
                                    failed.record("client \(index): \(error)")
                                    throw error
                                }
                            }
                        }
                        var all: [[String]] = []
                        for try await stream in group { all.append(stream) }
                        return all
                    }
                }
                // A client that fails ends the wait at once with its error; a machine slowed
                // by the rest of the suite gets a generous bound (101 subscribe in ~1 s alone).
                do {
                    try await waitUntil(timeout: .seconds(120), "101 subscriptions") { subscribed.count == 101 || !failed.all.isEmpty }
                } catch {
                    Issue.record("\(subscribed.count) of 101 clients subscribed; failures: \(failed.all)")
                    throw error
                }
                try #require(failed.all.isEmpty, "\(failed.all)")
                let streams = try await withScheduler(db.url) { try await clients.value }
                let stored = try await events(db.url, run).map(\.seq)
                #expect(streams.count == 101)
                for stream in streams {
                    let seqs = try stream.envelopes().compactMap { $0["seq"]?.doubleValue }.map { Int64($0) }
                    #expect(seqs == stored, "ordered, gap-free, no duplicates")
                }
                let metrics = try await relay.request("GET", "/metrics", token: nil).body
                let resyncs = prometheusSample(metrics, "trellis_relay_resyncs_total") ?? 0
                #expect(resyncs >= 101, "every subscriber overflowed its buffer and was resynced from the log")
                let relayed = prometheusSample(metrics, "trellis_relay_events_total") ?? 0
                #expect(relayed >= Double(101 * stored.count))
            }
        }
    }
}
