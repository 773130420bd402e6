import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
import TrellisStore
import TrellisTestSupport

/// Every workflow as an A2A agent, driven by the official a2a-sdk client (PyPI, pinned,
/// installed by scripts/install-deps.sh into .trellis/venv): discover the card, stream a
/// run to completion, a blocking send, cancel another run, a gate answered by a follow-up
/// message, and a token without `run` refused. The client's view is checked against the
/// database: the stream is the run's event log, gap-free.
@Suite("Workflows as A2A agents")
struct AgentServerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var python: URL { root.appending(path: ".trellis/venv/bin/python") }
    static var client: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Agents/a2a_client.py") }

    @Test func anA2AClientDiscoversStreamsCancelsAndAnswersAndANonRunnerIsRefused() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python.path),
                     "the a2a-sdk venv is not installed at \(Self.python.path): run scripts/install-deps.sh (make test does)")
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: """
                    {"name": "agent-echo", "description": "Echoes a topic twice.", "nodes": [
                      {"key": "first", "kind": "tool_call", "handler": "echo", "input": {"topic": "$input.topic", "text": "$input.text"}},
                      {"key": "second", "kind": "tool_call", "handler": "echo", "input": {"topic": "$first.topic"}}],
                     "edges": [{"from": "first", "to": "second"}]}
                    """, as: "admin")
                _ = try await workflows.publish(definition: """
                    {"name": "agent-slow", "nodes": [{"key": "nap", "kind": "tool_call", "handler": "sleep", "config": {"ms": 60000}}]}
                    """, as: "admin")
                _ = try await workflows.publish(definition: """
                    {"name": "agent-gate", "nodes": [
                      {"key": "review", "kind": "human_gate", "config": {"prompt": "Ship it?", "approvals": {"allow_self_approval": true}}},
                      {"key": "ship", "kind": "tool_call", "handler": "echo", "input": {"topic": "$input.topic"}}],
                     "edges": [{"from": "review", "to": "ship"}]}
                    """, as: "admin")
                let principals = PrincipalStore(connection: conn)
                _ = try await principals.create("watcher", as: "admin")
                _ = try await principals.grant("view", on: "agent-echo", to: "watcher", as: "admin")
            }
            try await RelayHarness.with(db.url) { relay in
                let token = try await relay.token(for: "admin")
                let watcher = try await relay.token(for: "watcher")
                let report = try await RelayHarness.withScheduler(db.url) { () async throws -> JSONValue in
                    let client = try BackgroundProcess(executable: Self.python.path, [Self.client.path, relay.base, token, watcher])
                    try await waitUntil(timeout: .seconds(120), "the a2a client to finish") { !client.isRunning }
                    #expect(client.stop() == 0, "\(client.log.suffix(3000))")
                    return try JSONDecoder().decode(JSONValue.self, from: Data(client.output.utf8))
                }
                try await PGConnection.withConnection(db.url) { conn in
                    try await Self.check(report, base: relay.base, conn)
                }
            }
        }
    }

    static func check(_ report: JSONValue, base: String, _ conn: PGConnection) async throws {
        // The card: the workflow, its JSON-RPC endpoint, streaming, bearer auth, its input fields.
        let card = try #require(report["card"])
        #expect(card["name"] == .string("agent-echo") && card["description"] == .string("Echoes a topic twice."))
        #expect(card["supportedInterfaces"]?[0]?["url"] == .string("\(base)/v1/a2a/agent-echo"))
        #expect(card["capabilities"]?["streaming"] == .bool(true))
        #expect(card["securitySchemes"]?["bearer"]?["httpAuthSecurityScheme"]?["scheme"] == .string("Bearer"))
        #expect(card["skills"]?[0]?["description"]?.stringValue?.contains("text, topic") == true, "\(card["skills"] ?? .null)")

        // The stream: the task, then one result per run event (two for run.finished), in
        // seq order without a gap, to COMPLETED with the run's output as the artifact.
        let stream = try #require(report["stream"]?.arrayValue)
        let task = try #require(stream.first?["task"])
        let run = try #require(task["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        #expect(task["contextId"] == .string("ctx-1"))
        let start = Int64(task["metadata"]?["trellis"]?["last_seq"]?.doubleValue ?? -1)
        let seqs = stream.dropFirst().compactMap { ($0["statusUpdate"] ?? $0["artifactUpdate"])?["metadata"]?["trellis"]?["seq"]?.doubleValue }
            .map { Int64($0) }
        let stored = try await RunStore(connection: conn).events(of: run)
        let expected = stored.filter { $0.seq > start }.flatMap { $0.type == "run.finished" ? [$0.seq, $0.seq] : [$0.seq] }
        #expect(seqs == expected, "stream seqs \(seqs) against the log \(stored.map { "\($0.seq) \($0.type)" })")
        #expect(stream.dropFirst().allSatisfy { ($0["statusUpdate"] ?? $0["artifactUpdate"])?["contextId"] == .string("ctx-1") })
        #expect(stream.last?["statusUpdate"]?["status"]?["state"] == .string("TASK_STATE_COMPLETED"))
        let artifact = try #require(stream.first { $0["artifactUpdate"] != nil }?["artifactUpdate"]?["artifact"])
        let output = try #require(try await RunStore(connection: conn).run(run).output?.decode(JSONValue.self))
        #expect(artifact["parts"]?[0]?["data"] == output, "\(artifact) vs \(output)")
        let input = try await conn.query("SELECT input FROM trellis.workflow_runs WHERE id = $1::uuid", [run]).single()
            .decode("input", as: PGJSON.self).decode(JSONValue.self)
        #expect(input == .object(["topic": .string("agents"), "text": .string("hello")]))

        // Blocking SendMessage: one answer, the finished task.
        let blocking = try #require(report["blocking"]?[0]?["task"])
        #expect(blocking["status"]?["state"] == .string("TASK_STATE_COMPLETED"))
        #expect(blocking["artifacts"]?[0]?["parts"]?[0]?["data"]?["second"]?["topic"] == .string("plain"), "\(blocking)")

        // Cancel: the run is cancelled in the database; cancelling again is refused (-32002).
        #expect(["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"].contains(report["slow_started"]?.stringValue ?? ""))
        #expect(report["cancelled"]?["status"]?["state"] == .string("TASK_STATE_CANCELED"))
        #expect(report["cancelled_get"]?["status"]?["state"] == .string("TASK_STATE_CANCELED"))
        let slowRun = try #require(report["cancelled"]?["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        #expect(try await RunStore(connection: conn).run(slowRun).status == "cancelled")
        #expect(report["cancel_again"]?.stringValue?.contains("TaskNotCancelable") == true, "\(report["cancel_again"] ?? .null)")
        #expect(report["unknown_task"]?.stringValue?.contains("TaskNotFound") == true, "\(report["unknown_task"] ?? .null)")

        // A gate: the stream ends at INPUT_REQUIRED with the prompt; the follow-up message
        // approves it with its text as the comment, and the answer's stream runs to the end.
        let gateFirst = try #require(report["gate_first"]?.arrayValue)
        // (The gate opens as the run is created, so the task alone says so.)
        let asked = try #require((gateFirst.last?["statusUpdate"] ?? gateFirst.last?["task"])?["status"])
        #expect(asked["state"] == .string("TASK_STATE_INPUT_REQUIRED"))
        #expect(asked["message"]?["parts"]?[0]?["text"] == .string("Ship it?"), "\(asked)")
        // The answer's stream ends COMPLETED: by a status update, or — when the run finished
        // before the stream opened (a fast scheduler) — by the task alone, as above.
        let answered = try #require(report["gate_answer"]?.arrayValue)
        let answerEnd = (answered.last?["statusUpdate"] ?? answered.last?["task"])?["status"]?["state"]
        #expect(answerEnd == .string("TASK_STATE_COMPLETED"), "the answer's stream: \(answered)")
        #expect(answered.first?["task"] != nil, "the answer's stream starts with the task: \(answered)")
        let gateRun = try #require(gateFirst.first?["task"]?["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        let decided = try await ApprovalStore(connection: conn).list(status: nil, run: gateRun)
        #expect(decided.map(\.status) == ["approved"] && decided.first?.comment == "ship it" && decided.first?.decidedBy == "admin")

        // A token that may view but not run: neither card nor call, and nothing started.
        #expect(report["no_run_card"]?.stringValue?.contains("403") == true, "\(report["no_run_card"] ?? .null)")
        #expect(report["no_run_send"]?.stringValue?.contains("403") == true, "\(report["no_run_send"] ?? .null)")
        let started = try await conn.query("""
            SELECT count(*) AS n FROM trellis.workflow_runs r JOIN trellis.workflows w ON w.id = r.workflow_id
            WHERE w.name = 'agent-echo' AND r.input ->> 'topic' = 'nope'
            """).single().decode("n", as: Int64.self)
        #expect(started == 0)
    }

    /// Hostile and malformed calls: JSON-RPC errors with stable codes naming the problem,
    /// HTTP errors for missing tokens and privileges, and no run written by any of them.
    @Test func badCallsGetJSONRPCErrorsAndWriteNothing() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "agent-echo", "nodes": [{"key": "first", "kind": "tool_call", "handler": "echo", "input": {"topic": "$input.topic"}}]}
                    """, as: "admin")
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "other", "nodes": [{"key": "only", "kind": "tool_call", "handler": "echo"}]}
                    """, as: "admin")
                _ = try await PrincipalStore(connection: conn).create("watcher", as: "admin")
                _ = try await PrincipalStore(connection: conn).grant("view", on: "agent-echo", to: "watcher", as: "admin")
            }
            try await RelayHarness.with(db.url) { relay in
                let token = try await relay.token(for: "admin")
                let otherRun = try await relay.request("POST", "/v1/workflows/other/runs", token: token, body: "{}").json()["run_id"]?.stringValue ?? ""
                let calls: [(String, [String: String], Int, String)] = [
                    ("{nope", [:], -32700, "the body is not JSON"),
                    (#"[1, 2]"#, [:], -32600, "a JSON-RPC 2.0 request needs"),
                    (#"{"jsonrpc": "1.0", "id": 1, "method": "GetTask"}"#, [:], -32600, "a JSON-RPC 2.0 request needs"),
                    (#"{"jsonrpc": "2.0", "id": {"x": 1}, "method": "GetTask"}"#, [:], -32600, "id must be"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "ListEverything"}"#, [:], -32601, "method ListEverything is not served here"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]}"#, [:], -32602, "params must be an object"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {}}"#, [:], -32602, "params.id (the task id) is required"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}"#, [:], -32001, "unknown task nope"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "\#(UUID())"}}"#, [:], -32001, "unknown run"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "\#(otherRun)"}}"#, [:], -32001, "is not a task of agent agent-echo"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {}}"#, [:], -32602, "params.message is required"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": [{"data": 5}]}}}"#, [:], -32602, "message.parts[0].data must be a JSON object"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": [{"raw": "aGk="}]}}}"#, [:], -32005, "message.parts[0]: file bytes"),
                    (#"{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"taskId": "\#(otherRun)", "parts": [{"text": "hi"}]}}}"#, [:], -32001, "is not a task of agent"),
                    (#"{"jsonrpc": "2.0", "id": 7, "method": "GetTask", "params": {"id": "x"}}"#, ["A2A-Version": "0.3"], -32009, "A2A version 0.3 is not supported"),
                ]
                for (body, headers, code, says) in calls {
                    let reply = try await relay.request("POST", "/v1/a2a/agent-echo", token: token, body: body, headers: headers)
                    #expect(reply.status == 200, "\(body): \(reply.status) \(reply.body.prefix(300))")
                    let error = (try? reply.json())?["error"]
                    #expect(error?["code"] == .number(Double(code)), "\(body): \(reply.body.prefix(300))")
                    #expect(error?["message"]?.stringValue?.contains(says) == true, "\(body): \(reply.body.prefix(300))")
                    #expect(try reply.json()["jsonrpc"] == .string("2.0"))
                }
                // A follow-up on a run that waits for nothing: -32004, naming its state.
                let started = try await relay.request("POST", "/v1/a2a/agent-echo", token: token,
                                                      body: #"{"jsonrpc": "2.0", "id": "s", "method": "SendMessage", "params": {"message": {"messageId": "m1", "parts": [{"data": {"topic": "t"}}]}, "configuration": {"returnImmediately": true}}}"#)
                let task = try #require(try started.json()["result"]?["task"])
                #expect(task["status"]?["state"] == .string("TASK_STATE_SUBMITTED"), "\(started.body)")
                let id = task["id"]?.stringValue ?? ""
                let answer = try await relay.request("POST", "/v1/a2a/agent-echo", token: token,
                                                     body: #"{"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": {"message": {"taskId": "\#(id)", "parts": [{"text": "hi"}]}}}"#)
                #expect(try answer.json()["error"]?["code"] == .number(-32004), "\(answer.body)")
                #expect(answer.body.contains("is not waiting for input (it is queued)"), "\(answer.body)")
                // The same messageId again is the same run (the idempotency key).
                let again = try await relay.request("POST", "/v1/a2a/agent-echo", token: token,
                                                    body: #"{"jsonrpc": "2.0", "id": "s", "method": "SendMessage", "params": {"message": {"messageId": "m1", "parts": [{"data": {"topic": "t"}}]}, "configuration": {"returnImmediately": true}}}"#)
                #expect(try again.json()["result"]?["task"]?["id"] == .string(id))

                // HTTP refusals: no token 401; a token that may view but not run: 403 on card and send.
                #expect(try await relay.request("GET", "/v1/a2a/agent-echo/.well-known/agent-card.json", token: nil).status == 401)
                let watcher = try await relay.token(for: "watcher")
                let card = try await relay.request("GET", "/v1/a2a/agent-echo/.well-known/agent-card.json", token: watcher)
                #expect(card.status == 403 && card.errorCode == "forbidden", "\(card.body)")
                let send = try await relay.request("POST", "/v1/a2a/agent-echo", token: watcher,
                                                   body: #"{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": [{"text": "x"}]}}}"#)
                #expect(send.status == 403 && send.errorCode == "forbidden", "\(send.body)")
                // …but viewing is enough to read a task.
                let read = try await relay.request("POST", "/v1/a2a/agent-echo", token: watcher,
                                                   body: #"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "\#(id)"}}"#)
                #expect(try read.json()["result"]?["id"] == .string(id), "\(read.body)")
                let unknown = try await relay.request("GET", "/v1/a2a/nope/.well-known/agent-card.json", token: token)
                #expect(unknown.status == 404 && unknown.errorCode == "not_found")

                let runs = try await PGConnection.withConnection(db.url) { conn in
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int64.self)
                }
                #expect(runs == 2, "only the run of `other` and the one started by messageId m1")
            }
        }
    }
}
