import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TrellisCore
import TrellisPQ
import TrellisRelay
@testable import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// The `a2a` handler against real agents built with the official `a2a-sdk` (PyPI, pinned,
/// installed by scripts/install-deps.sh into .trellis/venv) and started by the test:
/// streaming and not, status updates as progress and log lines, an artifact of bytes
/// stored as a Trellis artifact, and cancel reaching the agent as CancelTask.
@Suite("a2a handler")
struct A2AHandlerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var python: URL { root.appending(path: ".trellis/venv/bin/python") }
    static var agentScript: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Agents/echo_agent.py") }

    /// Starts the echo agent on a free port; returns it once its card is served. Tests stop
    /// it with SIGKILL: a child of the test process may inherit SIGTERM blocked.
    static func startAgent(streaming: Bool) async throws -> (BackgroundProcess, String) {
        try #require(FileManager.default.isExecutableFile(atPath: python.path),
                     "the a2a-sdk venv is not installed at \(python.path): run scripts/install-deps.sh (make test does)")
        let port = try LocalCluster.freePort()
        let agent = try BackgroundProcess(executable: python.path, [agentScript.path, String(port)] + (streaming ? [] : ["--no-streaming"]))
        let base = "http://127.0.0.1:\(port)"
        try await waitUntil(timeout: .seconds(60), "the agent to serve its card") {
            guard agent.isRunning else { throw AgentExited(log: agent.log) }
            let answer = try? await URLSession.shared.data(from: URL(string: base + "/.well-known/agent-card.json")!)
            return (answer?.1 as? HTTPURLResponse)?.statusCode == 200
        }
        return (agent, base)
    }

    struct AgentExited: Error, CustomStringConvertible {
        var log: String
        var description: String { "the agent exited: \(log.suffix(2000))" }
    }

    static func scheduler(_ db: TestDatabase) -> (Scheduler, Task<SchedulerSummary, any Error>) {
        var options = SchedulerOptions(name: "a2a-\(UUID().uuidString.prefix(6))")
        options.pollInterval = .milliseconds(50)
        let scheduler = Scheduler(databaseURL: db.url, registry: .standard(), options: options)
        return (scheduler, Task { try await scheduler.run() })
    }

    static func events(_ conn: PGConnection, _ run: UUID, node: String, type: String) async throws -> [JSONValue] {
        try await conn.query("SELECT data FROM trellis.run_events WHERE run_id = $1::uuid AND type = $2 AND data ->> 'node_key' = $3 ORDER BY seq",
                             [run, type, node]).rows.map { try $0.decode("data", as: PGJSON.self).decode(JSONValue.self) }
    }

    @Test func streamingAndPlainAgentsAnswerWithTextAndFiles() async throws {
        let (streaming, streamingURL) = try await Self.startAgent(streaming: true)
        defer { streaming.stop(SIGKILL) }
        let (plain, plainURL) = try await Self.startAgent(streaming: false)
        defer { plain.stop(SIGKILL) }
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "agents", "nodes": [
                      {"key": "ask", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(streamingURL)"}, "input": {"text": "$input.question"}},
                      {"key": "plain", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(plainURL)"}, "input": {"text": "plain question"}},
                      {"key": "file", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(streamingURL)"}, "input": {"text": "file please"}},
                      {"key": "nowhere", "kind": "agent_call", "handler": "a2a", "config": {"url": "http://127.0.0.1:1"}, "input": {"text": "x"},
                       "on_error": "continue"}]}
                    """, as: "admin")
                return try await RunStore(connection: conn).start("agents", input: #"{"question": "hello agent"}"#, as: "admin").runID
            }
            let finished = try await runToTheEnd(db, run, registry: .standard(), name: "a2a-agents")
            let nodes = finished.nodes
            #expect(finished.status == "succeeded", "\(finished.errors)")
            try await db.withConnection { conn in

                // Streamed: the artifact's text, the task's ids, status text as log lines, states as progress.
                let ask = try #require(try nodes["ask"]?.output?.decode(JSONValue.self))
                #expect(ask["text"] == .string("HELLO AGENT") && ask["state"] == .string("completed"))
                #expect(ask["task_id"]?.stringValue?.isEmpty == false && ask["artifacts"]?[0]?["name"] == .string("answer"))
                let logs = try await Self.events(conn, run, node: "ask", type: "node.log").compactMap { $0["body"]?.stringValue }
                #expect(logs == ["reading the request", "writing the answer"], "\(logs)")
                let states = try await Self.events(conn, run, node: "ask", type: "node.progress").compactMap { $0["message"]?.stringValue }
                #expect(states.first == "submitted" && states.last == "completed" && states.contains("working"), "\(states)")

                // Not streamed (the card says so): SendMessage, the same answer.
                let plainOutput = try #require(try nodes["plain"]?.output?.decode(JSONValue.self))
                #expect(plainOutput["text"] == .string("PLAIN QUESTION"))

                // A file part of bytes became a Trellis artifact of the run.
                let file = try #require(try nodes["file"]?.output?.decode(JSONValue.self))
                let reference = try #require(file["artifacts"]?[0]?["parts"]?[0]?["file"].flatMap(ArtifactReference.init))
                #expect(reference.name == "report.txt" && reference.mediaType == "text/plain" && reference.size == 18)
                let bytes = try await ArtifactStore(connection: conn).chunks(reference.id, as: "admin", first: 0, last: 0)
                #expect(bytes.first == Data("line one\nline two\n".utf8))

                // No agent there: a retryable failure naming the card's address.
                let failure = try #require(try nodes["nowhere"]?.error?.decode(JSONValue.self))
                #expect(failure["code"] == .string("a2a_unreachable"), "\(failure)")
            }
        }
    }

    @Test func cancellingTheRunCancelsTheAgentsTask() async throws {
        let (agent, url) = try await Self.startAgent(streaming: true)
        defer { agent.stop(SIGKILL) }
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "slow-agent", "nodes": [
                      {"key": "slow", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(url)"}, "input": {"text": "slow please"}}]}
                    """, as: "admin")
                return try await RunStore(connection: conn).start("slow-agent", as: "admin").runID
            }
            let (scheduler, running) = Self.scheduler(db)
            try await db.withConnection { conn in
                let runs = RunStore(connection: conn)
                // The agent is working on the task (its first status update arrived) …
                try await waitUntil(timeout: .seconds(60), "the agent to start working") {
                    try await Self.events(conn, run, node: "slow", type: "node.progress").contains { $0["message"] == .string("working") }
                }
                // … when the run is cancelled: the handler tells the agent.
                _ = try await runs.control(.cancel, run: run, as: "admin", reason: "changed my mind")
                try await waitUntil(timeout: .seconds(30), "the agent to receive CancelTask") { agent.output.contains("cancelled ") }
                scheduler.requestStop()
                _ = try await running.value
                #expect(try await runs.run(run).status == "cancelled")
            }
        }
    }

    /// input-required: the node waits on an approval of kind input; the approving comment
    /// goes back to the agent on the same task, streaming or not; a rejection fails it.
    @Test func inputRequiredIsAnsweredThroughAnApproval() async throws {
        let (streaming, streamingURL) = try await Self.startAgent(streaming: true)
        defer { streaming.stop(SIGKILL) }
        let (plain, plainURL) = try await Self.startAgent(streaming: false)
        defer { plain.stop(SIGKILL) }
        try await TestDatabase.withMigrated { db in
            let (answered, refused) = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "asking", "nodes": [
                      {"key": "streamed", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(streamingURL)"}, "input": {"text": "ask for a colour"}},
                      {"key": "plain", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(plainURL)"}, "input": {"text": "ask plainly"}}]}
                    """, as: "admin")
                let runs = RunStore(connection: conn)
                return (try await runs.start("asking", as: "admin").runID, try await runs.start("asking", as: "admin").runID)
            }
            let (scheduler, running) = Self.scheduler(db)
            try await db.withConnection { conn in
                let runs = RunStore(connection: conn)
                let approvals = ApprovalStore(connection: conn)
                try await waitUntil(timeout: .seconds(60), "four questions") { try await approvals.list().count == 4 }
                let pending = try await approvals.list()
                #expect(pending.allSatisfy { $0.kind == "input" && $0.prompt == "Which colour?" }, "\(pending.map { ($0.kind, $0.prompt) })")
                #expect(try await runs.run(answered).status == "waiting")
                let requested = try await Self.events(conn, answered, node: "streamed", type: "approval.requested")
                #expect(requested.first?["kind"] == .string("input") && requested.first?["prompt"] == .string("Which colour?"))

                // The starter answers their own run's questions (allowed for input by default).
                for approval in pending where approval.runID == answered {
                    let status = try await approvals.decide(approval.id, .approve, as: "admin",
                                                            comment: approval.nodeKey == "streamed" ? "blue" : "green")
                    #expect(status == "approved")
                }
                for approval in pending where approval.runID == refused && approval.nodeKey == "streamed" {
                    try await approvals.decide(approval.id, .reject, as: "admin", comment: "not telling")
                }
                try await waitUntil(timeout: .seconds(60), "both runs to finish") {
                    let first = try await runs.run(answered).finishedAt
                    let second = try await runs.run(refused).finishedAt
                    return first != nil && second != nil
                }
                scheduler.requestStop()
                let summary = try await running.value
                #expect(summary.waiting == 4)

                let nodes = Dictionary(uniqueKeysWithValues: try await runs.nodes(of: answered).map { ($0.key, $0) })
                #expect(try await runs.run(answered).status == "succeeded", "\(nodes.mapValues { $0.error?.text ?? "" })")
                #expect(try nodes["streamed"]?.output?.decode(JSONValue.self)["text"] == .string("ASK FOR A COLOUR -> BLUE"))
                #expect(try nodes["plain"]?.output?.decode(JSONValue.self)["text"] == .string("ASK PLAINLY -> GREEN"))
                // The same task and context across the two attempts; the first one asked.
                let attempts = try await conn.query("""
                    SELECT outcome FROM trellis.node_attempts a JOIN trellis.node_runs n ON n.id = a.node_run_id
                    WHERE n.run_id = $1::uuid AND n.node_key = 'streamed' ORDER BY a.attempt
                    """, [answered]).rows.map { try $0.decode("outcome", as: String.self) }
                #expect(attempts == ["input_required", "succeeded"])
                let resume = try await conn.query("SELECT resume FROM trellis.node_runs WHERE run_id = $1::uuid AND node_key = 'streamed'",
                                                  [answered]).single().decode("resume", as: PGJSON.self).decode(JSONValue.self)
                let output = try #require(try nodes["streamed"]?.output?.decode(JSONValue.self))
                #expect(resume["task_id"] == output["task_id"] && resume["context_id"] == output["context_id"] && resume["answer"] == .string("blue"))
                #expect(resume["answered_by"] == .string("admin"))

                // Rejected: the node fails with the rejection, without another attempt.
                let failed = try #require(try await runs.nodes(of: refused).first { $0.key == "streamed" })
                #expect(try await runs.run(refused).status == "failed")
                #expect(try failed.error?.decode(JSONValue.self)["code"] == .string("rejected"))
                #expect(failed.attempt == 1)
                let left = try await approvals.list(run: refused)
                #expect(left.isEmpty, "the run's other question closes with the run: \(left.map(\.nodeKey))")
            }
        }
    }

    /// Trellis on both sides of A2A: an `a2a` node calls another workflow through the
    /// relay's `/v1/a2a/{workflow}` with an API token from the scheduler's credentials; the
    /// inner run's output comes back as the artifact. Without the credentials the relay
    /// refuses (401) and the node fails without retrying.
    @Test func aWorkflowCallsAnotherThroughTheRelayAsAnAgent() async throws {
        try await TestDatabase.withMigrated { db in
            var options = Relay.Options()
            options.port = 0
            options.handleSignals = false
            options.logLevel = .critical
            let (port, serving) = try await Relay(databaseURL: db.url, options: options).start()
            defer { serving.cancel() }
            let inner = "http://127.0.0.1:\(port)/v1/a2a/inner"
            let (run, token) = try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                _ = try await workflows.publish(definition: """
                    {"name": "inner", "description": "Echoes a topic.", "nodes": [
                      {"key": "echoed", "kind": "tool_call", "handler": "echo", "input": {"topic": "$input.topic"}}]}
                    """, as: "admin")
                _ = try await workflows.publish(definition: """
                    {"name": "outer", "nodes": [
                      {"key": "call", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(inner)", "credentials": "trellis"},
                       "input": {"data": {"topic": "$input.topic"}}},
                      {"key": "anonymous", "kind": "agent_call", "handler": "a2a", "config": {"url": "\(inner)"},
                       "input": {"text": "x"}, "on_error": "continue", "retry": {"max_attempts": 3, "initial_delay": "10ms"}}]}
                    """, as: "admin")
                let token = try await TokenStore(connection: conn).create(for: "admin", as: "admin").token
                return (try await RunStore(connection: conn).start("outer", input: #"{"topic": "nested"}"#, as: "admin").runID, token)
            }
            let credentials = LLMConfiguration(credentials: ["trellis": .init(baseURL: URL(string: "http://127.0.0.1:\(port)")!, apiKey: token)])
            let finished = try await runToTheEnd(db, run, registry: .standard(llm: credentials), name: "a2a-nested")
            let nodes = finished.nodes
            #expect(finished.status == "succeeded", "\(finished.errors)")
            try await db.withConnection { conn in
                let runs = RunStore(connection: conn)
                let call = try #require(try nodes["call"]?.output?.decode(JSONValue.self))
                #expect(call["state"] == .string("completed"))
                #expect(call["artifacts"]?[0]?["name"] == .string("output"))
                #expect(call["artifacts"]?[0]?["parts"]?[0]?["data"]?["echoed"]?["topic"] == .string("nested"), "\(call)")
                // The inner run is a run of `inner`, started by the token's principal.
                let innerRun = try #require(call["task_id"]?.stringValue.flatMap(UUID.init(uuidString:)))
                #expect(try await runs.run(innerRun).status == "succeeded")
                // No token: 401 at the card, one attempt, not retried.
                let anonymous = try #require(nodes["anonymous"])
                let failure = try #require(try anonymous.error?.decode(JSONValue.self))
                #expect(failure["code"] == .string("a2a_no_card") && failure["message"]?.stringValue?.contains("HTTP 401") == true, "\(failure)")
                #expect(anonymous.attempt == 1)
            }
        }
    }

    /// An attempt run again after its scheduler died (same resume, answer already sent)
    /// must not send the answer a second time to a task that moved on: it reads the task
    /// and takes its result — streaming and not.
    @Test func aResumedAttemptRunAgainDoesNotAnswerTwice() async throws {
        for streaming in [true, false] {
            let (agent, url) = try await Self.startAgent(streaming: streaming)
            defer { agent.stop(SIGKILL) }
            var context = NodeContext(nodeRunID: 1, runID: UUID(), nodeKey: "ask", attempt: 1, input: .object(["text": .string("ask twice")]),
                                      config: .object(["url": .string(url)]), idempotencyKey: "run:ask:-", itemIndex: nil)
            let handler = A2AHandler()
            var resume: JSONValue = .null
            do {
                _ = try await handler.run(context)
                Issue.record("the agent's question did not reach the handler")
            } catch let asked as NodeNeedsInput {
                #expect(asked.prompt == "Which colour?")
                resume = asked.resume
            }
            guard case .object(var fields) = resume else { Issue.record("no resume: \(resume)"); continue }
            fields["answer"] = .string("red")
            context.resume = .object(fields)
            context.attempt = 2
            let answered = try await handler.run(context)
            #expect(answered.output["text"] == .string("ASK TWICE -> RED"), "streaming \(streaming): \(answered.output)")
            context.attempt = 3  // the same answer delivered again
            let again = try await handler.run(context)
            #expect(again.output["text"] == .string("ASK TWICE -> RED") && again.output["task_id"] == answered.output["task_id"],
                    "streaming \(streaming): \(again.output)")
        }
    }
}
