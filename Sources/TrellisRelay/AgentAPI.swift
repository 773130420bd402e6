import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TrellisCore
import TrellisPQ
import TrellisStore

/// Every workflow as an A2A 1.0 agent (JSON-RPC binding), behind the same bearer tokens:
///
/// - `GET /v1/a2a/{workflow}/.well-known/agent-card.json`: the card (trellis.a2a_agent_card),
///   for a token that may run the workflow;
/// - `POST /v1/a2a/{workflow}`: `SendMessage` starts a run (message parts → input, the
///   messageId its idempotency key) and, unless `configuration.returnImmediately`, waits up
///   to `blockingWait` for the run to finish or wait for input; `SendStreamingMessage`
///   streams the run's events as status and artifact updates (A2AStreamEvent); a message
///   carrying `taskId` answers the run's oldest pending question or gate instead;
///   `GetTask`, `CancelTask` and `SubscribeToTask` act on the run whose id is the task id.
///
/// Protocol errors are JSON-RPC errors (HTTP 200): -32001 unknown task, -32002 not
/// cancelable, -32004 unsupported, -32005 content type, -32600/-32601/-32602/-32700.
/// A missing or refused token or privilege is HTTP 401/403 with the relay's error body,
/// as on every other route.
struct AgentAPI: Sendable {
    let relay: Relay
    /// How long a blocking SendMessage waits for the run to finish or ask before it answers
    /// with the task as it is (clients then poll GetTask or subscribe).
    static let blockingWait = Duration.seconds(30)
    /// Task states after which nothing more happens.
    static let finishedStates: Set<String> = ["TASK_STATE_COMPLETED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED"]
    /// What stops a delivery loop that reached its end (not an error for the client).
    static let reachedTheEnd = RelayError(.ok, "done", "")
    static let versionHeader = HTTPField.Name("A2A-Version")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        api.get("a2a/:workflow/.well-known/agent-card.json") { request, context in
            let workflow = try context.parameters.require("workflow")
            let principal = try context.who
            let endpoint = Self.endpoint(request, workflow)
            return HTTPReply.json(try await pool.withConnection {
                try await APIStore(connection: $0).agentCard(workflow, endpoint: endpoint, as: principal)
            }.text)
        }
        api.post("a2a/:workflow") { request, context in
            let workflow = try context.parameters.require("workflow")
            let principal = try context.who
            let body = try await RequestInput.text(request, limit: relay.options.maxBody)
            let call: JSONRPCCall
            do {
                call = try JSONRPCCall(body, version: request.headers[Self.versionHeader])
            } catch let error as JSONRPCError {
                return HTTPReply.json(error.reply(id: error.id))
            }
            do {
                return try await handle(call, workflow: workflow, principal: principal, token: context.token ?? "")
            } catch let error as JSONRPCError {
                return HTTPReply.json(error.reply(id: call.id))
            } catch {
                let translated = Self.translate(error, call: call)
                if let answer = translated as? JSONRPCError { return HTTPReply.json(answer.reply(id: call.id)) }
                throw translated
            }
        }
    }

    /// The URL clients call, as this request reached the relay (Host, X-Forwarded-Proto).
    static func endpoint(_ request: Request, _ workflow: String) -> String {
        let scheme = request.headers[Self.forwardedProto] ?? "http"
        let host = request.head.authority ?? "127.0.0.1"
        return "\(scheme)://\(host)/v1/a2a/\(workflow)"
    }

    /// SQL refusals as JSON-RPC errors; authentication, privilege and an unavailable
    /// database stay HTTP errors (401/403/503).
    static func translate(_ error: any Error, call: JSONRPCCall) -> any Error {
        let relay = RelayError.from(error)
        switch relay.status {
        case .unauthorized, .forbidden, .serviceUnavailable, .internalServerError:
            return relay
        case .notFound where call.method == "SendMessage" || call.method == "SendStreamingMessage":
            return call.params["message"]?["taskId"] == nil ? relay : JSONRPCError(-32001, relay.message, id: call.id)
        case .notFound:
            return JSONRPCError(-32001, relay.message, id: call.id)
        case .conflict:
            return JSONRPCError(call.method == "CancelTask" ? -32002 : -32004, relay.message, id: call.id)
        default:
            return JSONRPCError(-32602, relay.message, id: call.id)
        }
    }

    func handle(_ call: JSONRPCCall, workflow: String, principal: String, token: String) async throws -> Response {
        switch call.method {
        case "SendMessage", "SendStreamingMessage":
            guard let message = call.params["message"] else { throw JSONRPCError(-32602, "params.message is required", id: call.id) }
            let run = try await send(message, workflow: workflow, principal: principal)
            if call.method == "SendStreamingMessage" { return try await stream(run, workflow: workflow, principal: principal, token: token, call: call) }
            if call.params["configuration"]?["returnImmediately"] != .bool(true) { try await waitForRest(run) }
            return try reply(call, "task", try await task(run, workflow: workflow, principal: principal))
        case "GetTask":
            let run = try taskID(call)
            return try reply(call, nil, try await task(run, workflow: workflow, principal: principal))
        case "CancelTask":
            let run = try taskID(call)
            _ = try await task(run, workflow: workflow, principal: principal)
            try await relay.pool.withConnection { _ = try await RunStore(connection: $0).control(.cancel, run: run, as: principal, reason: "cancelled by an A2A client") }
            return try reply(call, nil, try await task(run, workflow: workflow, principal: principal))
        case "SubscribeToTask":
            let run = try taskID(call)
            let current = try await task(run, workflow: workflow, principal: principal)
            if Self.finishedStates.contains(current["status"]?["state"]?.stringValue ?? "") {
                throw JSONRPCError(-32004, "task \(run.uuidString.lowercased()) is finished (\(current["status"]?["state"]?.stringValue ?? "")); read it with GetTask", id: call.id)
            }
            return try await stream(run, workflow: workflow, principal: principal, token: token, call: call)
        default:
            throw JSONRPCError(-32601, "method \(call.method) is not served here (SendMessage, SendStreamingMessage, GetTask, CancelTask, SubscribeToTask)", id: call.id)
        }
    }

    /// Starts a run from a new message, or answers the run's question with a follow-up
    /// (a message with taskId). Returns the run.
    func send(_ message: JSONValue, workflow: String, principal: String) async throws -> UUID {
        if let taskText = message["taskId"]?.stringValue {
            guard let run = UUID(uuidString: taskText) else { throw JSONRPCError(-32001, "unknown task \(taskText)", id: nil) }
            _ = try await task(run, workflow: workflow, principal: principal)
            let (text, reject) = A2AMessageInput.reply(from: message)
            try await relay.pool.withConnection { _ = try await APIStore(connection: $0).agentReply(run, answer: text, reject: reject, as: principal) }
            return run
        }
        let input: JSONValue
        do {
            input = try A2AMessageInput.input(from: message)
        } catch {
            throw JSONRPCError(error.code, error.message, id: nil)
        }
        var options: [String: JSONValue] = [:]
        if let id = message["messageId"]?.stringValue, !id.isEmpty { options["idempotency_key"] = .string("a2a:" + id.prefix(200)) }
        if let contextID = message["contextId"]?.stringValue, !contextID.isEmpty {
            options["context"] = .object(["a2a": .object(["context_id": .string(String(contextID.prefix(200)))])])
        }
        let (inputText, optionsText) = (try JSONText.encode(input), try JSONText.encode(JSONValue.object(options)))
        return try await relay.pool.withConnection {
            try await RunStore(connection: $0).start(workflow, input: inputText, options: optionsText, as: principal)
        }.runID
    }

    /// The run as a Task; a run of another workflow is not this agent's task (-32001).
    func task(_ run: UUID, workflow: String, principal: String) async throws -> JSONValue {
        let task = try await relay.pool.withConnection { try await APIStore(connection: $0).agentTask(run, as: principal) }.decode(JSONValue.self)
        guard task["metadata"]?["trellis"]?["workflow"]?.stringValue == workflow else {
            throw JSONRPCError(-32001, "task \(run.uuidString.lowercased()) is not a task of agent \(workflow)", id: nil)
        }
        return task
    }

    func taskID(_ call: JSONRPCCall) throws -> UUID {
        guard let text = call.params["id"]?.stringValue else { throw JSONRPCError(-32602, "params.id (the task id) is required", id: call.id) }
        guard let run = UUID(uuidString: text) else { throw JSONRPCError(-32001, "unknown task \(text)", id: call.id) }
        return run
    }

    func reply(_ call: JSONRPCCall, _ key: String?, _ value: JSONValue) throws -> Response {
        let result: JSONValue = key.map { .object([$0: value]) } ?? value
        return HTTPReply.json(try JSONText.encode(JSONValue.object(["jsonrpc": .string("2.0"), "id": call.id, "result": result])))
    }

    /// Waits until the run finishes or waits for people, at most `blockingWait`.
    func waitForRest(_ run: UUID) async throws {
        let current = try await relay.pool.withConnection { try await RunStore(connection: $0).run(run) }
        if ["succeeded", "failed", "cancelled", "waiting"].contains(current.status) { return }
        let events = EventStreams(relay: relay).stream(run)
        let stop = StreamStop()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await events.deliver(after: current.lastSeq, stop: stop) { steps in
                    for case .event(let event, _) in steps where event.type == "run.finished" || event.type == "run.waiting" {
                        stop.stop(Self.reachedTheEnd)
                    }
                }
            }
            group.addTask { try await Task.sleep(for: Self.blockingWait) }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The task first, then every event of the run after it as A2A results, until the run
    /// finishes or waits for input; a revoked token or grant ends it with a JSON-RPC error.
    func stream(_ run: UUID, workflow: String, principal: String, token: String, call: JSONRPCCall) async throws -> Response {
        let first = try await task(run, workflow: workflow, principal: principal)
        let after = Int64(first["metadata"]?["trellis"]?["last_seq"]?.doubleValue ?? 0)
        let contextID = first["contextId"]?.stringValue ?? run.uuidString.lowercased()
        let events = EventStreams(relay: relay).stream(run)
        let relay = self.relay
        let id = call.id
        @Sendable func frame(_ result: JSONValue) throws -> String {
            "data: " + (try JSONText.encode(JSONValue.object(["jsonrpc": .string("2.0"), "id": id, "result": result]))) + "\n\n"
        }
        return try relay.gate.eventStream(for: principal) { writer in
            let stop = StreamStop()
            let watcher = EventStreams(relay: relay).watch(token: token, principal: principal, runs: [run], stop: stop)
            defer { watcher.cancel() }
            try await writer.write(ByteBuffer(string: try frame(.object(["task": first]))))
            let state = first["status"]?["state"]?.stringValue ?? ""
            // Finished, or already waiting for people: the task is all there is to say.
            var ended = Self.finishedStates.contains(state) || state == "TASK_STATE_INPUT_REQUIRED"
            if !ended {
                try await events.deliver(after: after, stop: stop) { steps in
                    var text = ""
                    for case .event(let event, _) in steps where !ended {
                        var output: JSONValue?
                        if event.type == "run.finished" {
                            output = try? await relay.pool.withConnection { try await RunStore(connection: $0).run(run).output }?
                                .decode(JSONValue.self)
                        }
                        let data = (try? JSONDecoder().decode(JSONValue.self, from: Data(event.data.utf8))) ?? .object([:])
                        let mapped = A2AStreamEvent(runID: run, contextID: contextID, seq: event.seq, type: event.type,
                                                    timestamp: event.timestamp, data: data, output: output)
                        for result in mapped.results { text += try frame(result) }
                        ended = mapped.endsStream
                    }
                    if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                    if ended { stop.stop(Self.reachedTheEnd) }
                }
            }
            if let reason = stop.reason, reason.code != Self.reachedTheEnd.code {
                let error = JSONValue.object(["jsonrpc": .string("2.0"), "id": id,
                                              "error": .object(["code": .number(-32603), "message": .string(reason.message)])])
                try await writer.write(ByteBuffer(string: "data: " + (try JSONText.encode(error)) + "\n\n"))
            }
            try await writer.finish(nil)
        }
    }
}

/// One JSON-RPC 2.0 request to an agent.
struct JSONRPCCall: Sendable {
    var id: JSONValue
    var method: String
    var params: JSONValue

    init(_ body: String, version: String?) throws(JSONRPCError) {
        guard let request = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)) else {
            throw JSONRPCError(-32700, "the body is not JSON", id: .null)
        }
        let id = request["id"] ?? .null
        switch id {
        case .string, .number, .null: break
        default: throw JSONRPCError(-32600, "id must be a string, a number or null", id: .null)
        }
        guard case .object = request, request["jsonrpc"] == .string("2.0"), let method = request["method"]?.stringValue else {
            throw JSONRPCError(-32600, "a JSON-RPC 2.0 request needs \"jsonrpc\": \"2.0\" and a method", id: id)
        }
        if let version, !["1.0", "1"].contains(version.trimmingCharacters(in: .whitespaces)) {
            throw JSONRPCError(-32009, "A2A version \(version) is not supported (1.0 is)", id: id)
        }
        let params = request["params"] ?? .object([:])
        guard case .object = params else { throw JSONRPCError(-32602, "params must be an object", id: id) }
        self.id = id
        self.method = method
        self.params = params
    }
}

/// A JSON-RPC error answer (HTTP 200, `{"jsonrpc", "id", "error": {"code", "message"}}`).
struct JSONRPCError: Error, Sendable {
    var code: Int
    var message: String
    var id: JSONValue?

    init(_ code: Int, _ message: String, id: JSONValue?) {
        self.code = code
        self.message = message
        self.id = id
    }

    func reply(id: JSONValue?) -> String {
        let body = JSONValue.object(["jsonrpc": .string("2.0"), "id": id ?? self.id ?? .null,
                                     "error": .object(["code": .number(Double(code)), "message": .string(message)])])
        return (try? JSONText.encode(body)) ?? #"{"jsonrpc": "2.0", "id": null, "error": {"code": -32603, "message": "internal error"}}"#
    }
}
