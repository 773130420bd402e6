import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// A model API on 127.0.0.1 that speaks OpenAI's Chat Completions wire format: chunked
/// `text/event-stream` bodies of `data: {chat.completion.chunk}` lines ending in
/// `data: [DONE]`, errors as `{"error": {"message", "type"}}`. The request's `model` picks
/// the script.
final class FakeModelAPI: Sendable {
    /// Requests per model, and whether the slow stream's client went away.
    final class State: Sendable {
        let counts = Mutex<[String: Int]>([:])
        let slowClientGone = Atomic<Bool>(false)
        /// A program started while the slow stream was open, stopped with the server.
        let bystander = Mutex<pid_t?>(nil)
    }

    let server: TestHTTPServer
    private let state: State

    static let words = (1...60).map { "word\($0) " }
    static var answer: String { words.joined() }
    static let reasoning = ["Let me ", "think about ", "the plan."]

    init() throws {
        let state = State()
        self.state = state
        server = try TestHTTPServer { request, writer in
            guard request.path == "/v1/chat/completions",
                  let body = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8)),
                  let model = body["model"]?.stringValue else { return false }
            let call = state.counts.withLock { counts in
                counts[model, default: 0] += 1
                return counts[model]!
            }
            FakeModelAPI.respond(model: model, call: call, stream: body["stream"] == .bool(true), writer: writer, state: state)
            return true
        }
    }

    var clientLeftTheSlowStream: Bool { state.slowClientGone.load(ordering: .relaxed) }

    /// Stops the server and whatever it started.
    func stop() {
        server.stop()
        if let pid = state.bystander.withLock({ $0 }) {
            kill(pid, SIGKILL)
            _ = ProcessRunner.waitForExit(pid)
        }
    }
    func calls(_ model: String) -> Int { state.counts.withLock { $0[model] ?? 0 } }

    static func chunk(_ model: String, _ delta: String, finish: String? = nil) -> String {
        let reason = finish.map { "\"\($0)\"" } ?? "null"
        return #"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764547200,"model":"\#(model)-2026","system_fingerprint":"fp_t","choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(reason)}],"usage":null}"# + "\n\n"
    }

    static func usage(_ model: String) -> String {
        #"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764547200,"model":"\#(model)-2026","choices":[],"usage":{"prompt_tokens":1234,"completion_tokens":567,"total_tokens":1801,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":3}}}"# + "\n\n"
    }

    static func quoted(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    static func startStream(_ writer: TestHTTPServer.Writer) {
        writer.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    }

    static func error(_ writer: TestHTTPServer.Writer, status: Int, extraHeaders: String = "", message: String) {
        let body = #"{"error":{"message":"\#(message)","type":"server_error","param":null,"code":null}}"#
        writer.write("HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)Connection: close\r\n\r\n\(body)")
    }

    /// A full streamed answer: reasoning, 60 words of content (several per network write,
    /// one write split inside a line), a tool call in three pieces, usage, [DONE].
    static func streamAnswer(_ model: String, _ writer: TestHTTPServer.Writer) {
        startStream(writer)
        writer.chunk(chunk(model, #"{"role":"assistant","content":"","refusal":null}"#))
        for piece in reasoning { writer.chunk(chunk(model, #"{"reasoning_content":\#(quoted(piece))}"#)) }
        var pending = ""
        for (index, word) in words.enumerated() {
            pending += chunk(model, #"{"content":\#(quoted(word))}"#)
            if index % 7 == 6 {
                let cut = pending.index(pending.startIndex, offsetBy: pending.count / 2)
                writer.chunk(String(pending[..<cut]))
                writer.chunk(String(pending[cut...]))
                pending = ""
            }
        }
        writer.chunk(pending)
        writer.chunk(chunk(model, #"{"tool_calls":[{"index":0,"id":"call_7","type":"function","function":{"name":"search","arguments":""}}]}"#))
        writer.chunk(chunk(model, #"{"tool_calls":[{"index":0,"function":{"arguments":"{\"query\": "}}]}"#))
        writer.chunk(chunk(model, #"{"tool_calls":[{"index":0,"function":{"arguments":"\"trellis\"}"}}]}"#, finish: "tool_calls"))
        writer.chunk(usage(model))
        writer.chunk("data: [DONE]\n\n")
        writer.endChunks()
    }

    static func respond(model: String, call: Int, stream: Bool, writer: TestHTTPServer.Writer, state: State) {
        switch model {
        case "rate-limited" where call == 1:
            error(writer, status: 429, extraHeaders: "Retry-After: 1\r\n", message: "Rate limit reached for requests")
        case "flaky" where call == 1:
            error(writer, status: 500, message: "The server had an error while processing your request.")
        case "refused":
            error(writer, status: 400, message: "Invalid value for 'temperature'")
        case "cut":
            startStream(writer)
            writer.chunk(chunk(model, #"{"role":"assistant","content":""}"#))
            writer.chunk(chunk(model, #"{"content":"The beginning "}"#))
            writer.chunk(chunk(model, #"{"content":"of an answer"}"#))
            // The connection drops: no [DONE], no final chunk of the chunked body.
        case "slow":
            startStream(writer)
            // A long-lived program starts while the stream is open, as another test's
            // PostgreSQL or a shell node may at any moment in a scheduler: the client's
            // connection must still close at the node's timeout (a child that inherited
            // its socket kept it open, and this stream ran on to its end).
            let pid = try? ProcessRunner.spawnBackground(["/bin/sleep", "30"], stderrFile: URL(fileURLWithPath: "/dev/null"))
            state.bystander.withLock { $0 = pid }
            for index in 0..<100 {
                guard writer.chunk(chunk(model, #"{"content":"tick\#(index) "}"#)) else {
                    state.slowClientGone.store(true, ordering: .relaxed)
                    return
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            writer.endChunks()
        case "whole" where !stream:
            let content = quoted("```json\n{\"steps\": [\"plan\", \"act\"]}\n```")
            let body = #"{"id":"chatcmpl-1","object":"chat.completion","created":1764547200,"model":"whole-2026","choices":[{"index":0,"message":{"role":"assistant","content":\#(content),"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}"#
            writer.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        default:
            streamAnswer(model, writer)
        }
    }
}

/// The `llm` handler end to end: a scheduler, a real database, and a fake model API that
/// speaks the wire format. Output, coalesced log lines, cost and tokens from usage,
/// retries (Retry-After honoured), a stream cut mid-way, a stream past the node's timeout,
/// and the API key nowhere in the database.
@Suite("llm handler")
struct LLMHandlerTests {
    static let key = "sk-test-\(UUID().uuidString)"

    static func configuration(_ api: FakeModelAPI) throws -> LLMConfiguration {
        try LLMConfiguration.parse("""
            {"credentials": {"fake": {"base_url": "\(api.server.baseURL)/v1", "api_key_env": "FAKE_KEY"}},
             "prices": {"stream-ok-2026": {"input": 0.15, "output": 0.60}, "whole": {"input": 1, "output": 2}}}
            """, fileName: "llm.json", environment: ["FAKE_KEY": key])
    }

    static func node(_ key: String, model: String, extra: String = "") -> String {
        #"{"key": "\#(key)", "kind": "agent_call", "handler": "llm", "config": {"credentials": "fake", "model": "\#(model)"\#(extra)}, "input": {"prompt": "$input.question"}}"#
    }

    /// Runs `definition` once on a scheduler with the fake API; returns the run's id.
    static func run(_ db: TestDatabase, _ api: FakeModelAPI, _ definition: String,
                    body: (PGConnection, UUID) async throws -> Void) async throws {
        let run = try await db.withConnection { conn in
            _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
            let name = try JSONDecoder().decode(JSONValue.self, from: Data(definition.utf8))["name"]!.stringValue!
            return try await RunStore(connection: conn).start(name, input: #"{"question": "What next?"}"#, as: "admin").runID
        }
        var options = SchedulerOptions(name: "llm-\(UUID().uuidString.prefix(6))")
        options.pollInterval = .milliseconds(50)
        let scheduler = Scheduler(databaseURL: db.url, registry: .standard(llm: try configuration(api)), options: options)
        let running = Task { try await scheduler.run() }
        do {
            try await db.withConnection { conn in
                try await waitUntil(timeout: .seconds(60), "the run to finish") { try await RunStore(connection: conn).run(run).finishedAt != nil }
                scheduler.requestStop()
                _ = try await running.value
                try await body(conn, run)
            }
        } catch {
            scheduler.requestStop()
            _ = try? await running.value
            throw error
        }
    }

    static func logs(_ conn: PGConnection, _ run: UUID, node: String) async throws -> [(kind: String, body: String)] {
        try await conn.query("""
            SELECT data ->> 'kind' AS kind, data ->> 'body' AS body FROM trellis.run_events
            WHERE run_id = $1::uuid AND type = 'node.log' AND data ->> 'node_key' = $2 ORDER BY seq
            """, [run, node]).rows.map { (try $0.decode("kind"), try $0.decode("body")) }
    }

    @Test func aStreamedAnswerBecomesOutputLogLinesCostAndTokens() async throws {
        let api = try FakeModelAPI()
        defer { api.server.stop() }
        try await TestDatabase.withMigrated { db in
            let definition = #"{"name": "planner", "nodes": [\#(Self.node("plan", model: "stream-ok", extra: #", "system": "You plan.", "log_interval_ms": 1000, "temperature": 0.2, "tools": [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]"#))]}"#
            try await Self.run(db, api, definition) { conn, run in
                let runs = RunStore(connection: conn)
                let node = try #require(try await runs.nodes(of: run).first)
                #expect(try await runs.run(run).status == "succeeded", "\(node.error?.text ?? "")")
                let output = try #require(try node.output?.decode(JSONValue.self))
                #expect(output["content"] == .string(FakeModelAPI.answer))
                #expect(output["reasoning"] == .string(FakeModelAPI.reasoning.joined()))
                #expect(output["finish_reason"] == .string("tool_calls") && output["model"] == .string("stream-ok-2026"))
                #expect(output["tool_calls"]?[0]?["function"] == .object(["name": .string("search"), "arguments": .string(#"{"query": "trellis"}"#)]))
                #expect(output["usage"]?["prompt_tokens"] == .number(1234) && output["usage"]?["completion_tokens"] == .number(567))

                // Cost from usage × the price of the model the server reported; tokens on the attempt and in the views.
                let costs = try await conn.query("""
                    SELECT a.cost::text AS cost, a.tokens_in, a.tokens_out, h.tokens_in AS run_in, h.tokens_out AS run_out, h.total_cost::text AS total
                    FROM trellis.node_attempts a JOIN trellis.run_history h ON h.run_id = a.run_id WHERE a.run_id = $1::uuid
                    """, [run]).single()
                #expect(try Decimal(string: costs.decode("cost", as: String.self)) == Decimal(string: "0.000525"))  // (1234×0.15 + 567×0.60) / 10⁶, stored in micro-dollars
                #expect(try costs.decode("tokens_in", as: Int.self) == 1234 && (try costs.decode("tokens_out", as: Int.self)) == 567)
                #expect(try costs.decode("run_in", as: Int.self) == 1234 && (try costs.decode("run_out", as: Int.self)) == 567)
                let stats = try await conn.query("SELECT tokens_in::bigint AS i, tokens_out::bigint AS o FROM trellis.workflow_stats() WHERE workflow = 'planner'").single()
                #expect(try stats.decode("i", as: Int.self) == 1234 && (try stats.decode("o", as: Int.self)) == 567)

                // Log lines: coalesced (60 content deltas → a few lines), in order, whole.
                let lines = try await Self.logs(conn, run, node: "plan")
                #expect(lines.count <= 8, "\(lines.count) node.log lines for 66 deltas")
                #expect(lines.filter { $0.kind == "agent_message" }.map(\.body).joined() == FakeModelAPI.answer)
                #expect(lines.filter { $0.kind == "thinking" }.map(\.body).joined() == FakeModelAPI.reasoning.joined())
                #expect(lines.filter { $0.kind == "tool_call" }.map(\.body).joined() == #"search({"query": "trellis"}"#)

                // What went over the wire: the key as a bearer token, the system prompt and the
                // bound prompt, streaming with usage, pass-through settings.
                let request = try #require(api.server.requests.last)
                #expect(request.headers["authorization"] == "Bearer \(Self.key)")
                let sent = try JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8))
                #expect(sent["messages"] == .array([.object(["role": .string("system"), "content": .string("You plan.")]),
                                                    .object(["role": .string("user"), "content": .string("What next?")])]))
                #expect(sent["stream"] == .bool(true) && sent["stream_options"]?["include_usage"] == .bool(true))
                #expect(sent["temperature"] == .number(0.2) && sent["tools"]?[0]?["function"]?["name"] == .string("search"))

                // The key is nowhere in the database: no row of any table of the schema holds it
                // (the same search finds the prompt, so it can find things).
                func holders(of text: String) async throws -> [String] {
                    try await conn.query("""
                        SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'trellis' AND c.relkind = 'r'
                          AND (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM trellis.%I t WHERE t::text LIKE %L',
                                                                           c.relname, '%' || $1 || '%'), false, true, '')))[1]::text::int > 0
                        """, [text]).rows.map { try $0.decode("name", as: String.self) }
                }
                let keyHolders = try await holders(of: Self.key)
                #expect(keyHolders.isEmpty, "the API key was found in \(keyHolders)")
                #expect(try await holders(of: "What next?").contains("node_runs"))
                let tables = try await conn.query("SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'trellis' AND c.relkind = 'r'")
                    .single().decode("n", as: Int.self)
                #expect(tables > 20, "the search covered every table")
            }
        }
    }

    @Test func retriesHonourRetryAfterAndRefusalsDoNotRetry() async throws {
        let api = try FakeModelAPI()
        defer { api.server.stop() }
        try await TestDatabase.withMigrated { db in
            let retry = #", "retry": {"max_attempts": 3, "initial_delay": "10ms"}"#
            let definition = """
                {"name": "retrying", "nodes": [
                  \(Self.node("limited", model: "rate-limited").dropLast() + retry + "}"),
                  \(Self.node("flaky", model: "flaky").dropLast() + retry + "}"),
                  \(Self.node("refused", model: "refused").dropLast() + retry + #", "on_error": "continue"}"#),
                  \(Self.node("whole", model: "whole", extra: #", "stream": false, "parse_json": true"#))]}
                """
            try await Self.run(db, api, definition) { conn, run in
                let nodes = Dictionary(uniqueKeysWithValues: try await RunStore(connection: conn).nodes(of: run).map { ($0.key, $0) })
                #expect(nodes["limited"]?.status == "succeeded" && nodes["limited"]?.attempt == 2)
                #expect(nodes["flaky"]?.status == "succeeded" && nodes["flaky"]?.attempt == 2)
                // 429: the retry waited for Retry-After (1 s), not the 10 ms backoff.
                let delay = try await conn.query("""
                    SELECT (data ->> 'delay_ms')::int AS delay, data -> 'error' ->> 'code' AS code FROM trellis.run_events
                    WHERE run_id = $1::uuid AND type = 'node.retry_scheduled' AND data ->> 'node_key' = 'limited'
                    """, [run]).single()
                #expect(try delay.decode("delay", as: Int.self) >= 1000 && (try delay.decode("code", as: String.self)) == "llm_429")
                let flakyDelay = try await conn.query("""
                    SELECT (data ->> 'delay_ms')::int AS delay FROM trellis.run_events
                    WHERE run_id = $1::uuid AND type = 'node.retry_scheduled' AND data ->> 'node_key' = 'flaky'
                    """, [run]).single().decode("delay", as: Int.self)
                #expect(flakyDelay < 1000, "500 without Retry-After: the policy's backoff")
                // 400: one attempt, not retried, with the server's message.
                #expect(nodes["refused"]?.status == "failed" && nodes["refused"]?.attempt == 1 && api.calls("refused") == 1)
                let refusal = try #require(try nodes["refused"]?.error?.decode(JSONValue.self))
                #expect(refusal["code"] == .string("llm_400") && refusal["message"]?.stringValue?.contains("Invalid value for 'temperature'") == true)
                // A whole (non-streamed) answer with JSON content parsed, costed by its price.
                let whole = try #require(try nodes["whole"]?.output?.decode(JSONValue.self))
                #expect(whole["json"] == .object(["steps": .array([.string("plan"), .string("act")])]))
            }
        }
    }

    @Test func aCutStreamFailsRetryablyAndASlowOneStopsAtTheTimeout() async throws {
        let api = try FakeModelAPI()
        defer { api.stop() }
        try await TestDatabase.withMigrated { db in
            let definition = """
                {"name": "broken-streams", "nodes": [
                  \(Self.node("cut", model: "cut", extra: #", "log_interval_ms": 0"#).dropLast() + #", "retry": {"max_attempts": 2, "initial_delay": "10ms"}, "on_error": "continue"}"#),
                  \(Self.node("slow", model: "slow").dropLast() + #", "timeout": "1s", "on_error": "continue"}"#)]}
                """
            try await Self.run(db, api, definition) { conn, run in
                let nodes = Dictionary(uniqueKeysWithValues: try await RunStore(connection: conn).nodes(of: run).map { ($0.key, $0) })
                // Cut: retried (retryable), failed again, and what arrived before the cut was logged.
                #expect(nodes["cut"]?.status == "failed" && nodes["cut"]?.attempt == 2 && api.calls("cut") == 2)
                #expect(try nodes["cut"]?.error?.decode(JSONValue.self)["code"] == .string("llm_stream_incomplete"))
                let partial = try await Self.logs(conn, run, node: "cut").filter { $0.kind == "agent_message" }.map(\.body).joined()
                #expect(partial == "The beginning of an answerThe beginning of an answer", "both attempts logged what arrived: \(partial)")
                // Slow: the node's timeout stopped the stream; the server saw the client leave.
                #expect(nodes["slow"]?.status == "failed")
                #expect(try nodes["slow"]?.error?.decode(JSONValue.self)["code"] == .string("timeout"))
                #expect(api.calls("slow") == 1)
                try await waitUntil(timeout: .seconds(10), "the fake API to see the client leave") { api.clientLeftTheSlowStream }
            }
        }
    }
}
