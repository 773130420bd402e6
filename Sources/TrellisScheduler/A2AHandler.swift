import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TrellisCore

/// `a2a`: sends one message to an agent over A2A 1.0 (the JSON-RPC binding) and waits for
/// its task to end.
///
/// - `config.url` is the agent's base URL; its card is read from
///   `{url}/.well-known/agent-card.json` (or `config.card_url`), and the call goes to the
///   card's JSON-RPC interface: `SendStreamingMessage` when the card says it streams,
///   `SendMessage` otherwise.
/// - The message's parts come from the input: `text` (a string), `data` (any JSON) and
///   `parts` (A2A parts as given).
/// - Status updates become `node.progress` (the task state) and `node.log` lines (the
///   status message's text, kind `agent_message`). Artifacts are collected into the output
///   `{task_id, context_id, state, artifacts: [{artifact_id, name, parts, text}], text,
///   message}`; file parts carrying bytes (`raw`) are stored as Trellis artifacts and
///   referenced (`{"$artifact": …}`) in their place.
/// - A task that fails or is rejected fails the node (not retryable), as does
///   `auth-required` (`a2a_auth_required`). `input-required` parks the node on a Trellis
///   approval of kind `input` (`NodeNeedsInput`) whose prompt is the agent's question; the
///   approving comment is sent back as a follow-up message on the same task and context,
///   and the stream goes on. HTTP 429/5xx, network errors and JSON-RPC internal errors
///   are retryable.
/// - Cancelling the node (timeout, run cancel, lost lease) sends `CancelTask` for the task.
/// - `config.credentials` names credentials of the scheduler's `--llm-config` file: their
///   key goes as `Authorization: Bearer …` (and their headers) on every request, and their
///   `base_url` is the agent's URL when `config.url` is absent. That is how one Trellis
///   calls another's workflows (`/v1/a2a/{workflow}`, with an API token).
public struct A2AHandler: NodeHandler {
    public let name = "a2a"
    let configuration: LLMConfiguration

    public init(configuration: LLMConfiguration = LLMConfiguration()) {
        self.configuration = configuration
    }

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        let credential = try context.config["credentials"]?.stringValue.map {
            try configuration.credential(named: $0, for: "a2a", source: "configuration")
        }
        let headers = credential?.requestHeaders ?? [:]
        guard let base = context.config["url"]?.stringValue.flatMap(URL.init(string:)) ?? credential?.baseURL,
              ["http", "https"].contains(base.scheme?.lowercased() ?? "") else {
            throw HandlerError(code: "invalid_config", message: "a2a: config.url must be the agent's http(s) base URL", retryable: false)
        }
        let cardURL = context.config["card_url"]?.stringValue.flatMap(URL.init(string:))
            ?? base.appending(path: ".well-known/agent-card.json")
        let card = try await Self.fetchCard(cardURL, headers: headers)
        guard let endpoint = card["supportedInterfaces"]?.arrayValue?
                .first(where: { ($0["protocolBinding"]?.stringValue ?? "").uppercased() == "JSONRPC" })?["url"]?.stringValue
                .flatMap(URL.init(string:)) else {
            throw HandlerError(code: "a2a_no_jsonrpc", message: "a2a: the agent card at \(cardURL) offers no JSONRPC interface", retryable: false)
        }
        let streaming = card["capabilities"]?["streaming"] == .bool(true)
        let followUp = A2AFollowUp(context.resume)
        let message = try Self.message(context, followUp: followUp)
        let call = A2ACall(endpoint: endpoint, context: context, headers: headers)
        var state = A2ATask()
        state.answering = followUp != nil
        do {
            // An answer is sent once: an attempt run again after a crash (or a lost lease)
            // finds the task past its question and follows it instead of asking it again.
            var followed = false
            if let followUp { followed = try await call.followIfAnswered(followUp, streaming: streaming, into: &state) }
            if !followed {
                if streaming {
                    try await call.stream("SendStreamingMessage", .object(["message": message]), into: &state)
                } else {
                    let result = try await call.request("SendMessage", .object(["message": message]))
                    try await state.apply(result: result, context: context)
                }
            }
        } catch let error as CancellationError {
            if let taskID = state.taskID { call.cancelDetached(taskID) }
            throw error
        } catch {
            if Task.isCancelled, let taskID = state.taskID { call.cancelDetached(taskID) }
            throw error
        }
        if state.state == "TASK_STATE_INPUT_REQUIRED", let taskID = state.taskID {
            throw NodeNeedsInput(prompt: state.statusText ?? "the agent asked for input",
                                 resume: .object(["task_id": .string(taskID), "context_id": state.contextID.map(JSONValue.string) ?? .null]))
        }
        return HandlerOutput(try state.output())
    }

    static func fetchCard(_ url: URL, headers: [String: String] = [:]) async throws -> JSONValue {
        var request = URLRequest(url: url)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await CappedTransfer(cap: 1 << 20).run(request)
        } catch {
            throw HandlerError.transport(error, code: "a2a_unreachable", "a2a: reading the agent card \(url) failed")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status), let card = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw HandlerError(code: "a2a_no_card", message: "a2a: no agent card at \(url) (HTTP \(status))", retryable: status >= 500 || status == 429)
        }
        return card
    }

    /// The user message: `input.text`, `input.data` and `input.parts`, in that order; or,
    /// after a person answered the agent's question, the answer on the same task.
    static func message(_ context: NodeContext, followUp: A2AFollowUp?) throws -> JSONValue {
        if let followUp {
            var message: [String: JSONValue] = ["messageId": .string("\(context.idempotencyKey):\(context.attempt)"),
                                                "role": .string("ROLE_USER"), "taskId": .string(followUp.taskID),
                                                "parts": .array([.object(["text": .string(followUp.answer)])])]
            if let contextID = followUp.contextID { message["contextId"] = .string(contextID) }
            return .object(message)
        }
        var parts: [JSONValue] = []
        if let text = context.input["text"] {
            parts.append(.object(["text": .string(text.stringValue ?? String(decoding: (try? JSONEncoder().encode(text)) ?? Data(), as: UTF8.self))]))
        }
        if let data = context.input["data"] { parts.append(.object(["data": data])) }
        if let given = context.input["parts"] {
            guard let list = given.arrayValue else {
                throw HandlerError(code: "invalid_input", message: "a2a: input.parts must be an array of A2A parts", retryable: false)
            }
            parts += list
        }
        guard !parts.isEmpty else {
            throw HandlerError(code: "invalid_input", message: "a2a: the input needs text, data or parts", retryable: false)
        }
        return .object(["messageId": .string("\(context.idempotencyKey):\(context.attempt)"), "role": .string("ROLE_USER"),
                        "parts": .array(parts)])
    }
}

/// What a node that asked for input resumes with: the agent's task and context, and the
/// person's answer (`context.resume` after the input approval was approved).
struct A2AFollowUp: Sendable {
    var taskID: String
    var contextID: String?
    var answer: String

    init?(_ resume: JSONValue?) {
        guard let resume, let taskID = resume["task_id"]?.stringValue, let answer = resume["answer"]?.stringValue else { return nil }
        self.taskID = taskID
        self.contextID = resume["context_id"]?.stringValue
        self.answer = answer
    }
}

/// One agent's JSON-RPC endpoint, for one node attempt.
struct A2ACall: Sendable {
    let endpoint: URL
    let context: NodeContext
    var headers: [String: String] = [:]

    func body(_ method: String, _ params: JSONValue, id: Int = 1) throws -> Data {
        try JSONEncoder().encode(JSONValue.object(["jsonrpc": .string("2.0"), "id": .number(Double(id)), "method": .string(method),
                                                   "params": params]))
    }

    func urlRequest(_ method: String, _ params: JSONValue, accept: String) throws -> URLRequest {
        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.timeoutInterval = 300
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(accept, forHTTPHeaderField: "Accept")
        request.setValue("1.0", forHTTPHeaderField: "A2A-Version")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = try body(method, params)
        return request
    }

    /// One JSON-RPC call answered by one JSON response; returns its `result`.
    func request(_ method: String, _ params: JSONValue) async throws -> JSONValue {
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await CappedTransfer(cap: 64 << 20).run(try urlRequest(method, params, accept: "application/json"))
        } catch {
            throw HandlerError.transport(error, code: "a2a_unreachable", "a2a: \(method) to \(endpoint) failed")
        }
        try Self.checkStatus(response, data)
        guard let reply = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw HandlerError(code: "a2a_bad_response", message: "a2a: \(method) answered with something that is not JSON-RPC")
        }
        return try Self.result(of: reply, method)
    }

    /// For a resumed attempt: when the task is no longer waiting for the answer (it was
    /// sent by an attempt that did not live to report), follows it to its end — at once
    /// if it ended, else `SubscribeToTask` or `poll` — and returns true; false when the
    /// answer is still to be sent.
    func followIfAnswered(_ followUp: A2AFollowUp, streaming: Bool, into state: inout A2ATask) async throws -> Bool {
        let current = try await request("GetTask", .object(["id": .string(followUp.taskID)]))
        guard let currentState = current["status"]?["state"]?.stringValue, currentState != "TASK_STATE_INPUT_REQUIRED" else { return false }
        state.answering = false
        state.taskID = followUp.taskID
        if A2ATask.terminal.contains(currentState) {
            try await state.apply(result: .object(["task": current]), context: context)
        } else if streaming {
            try await stream("SubscribeToTask", .object(["id": .string(followUp.taskID)]), into: &state)
        } else {
            try await poll(followUp.taskID, into: &state)
        }
        return true
    }

    /// `GetTask` once a second until the task ends (an agent that does not stream, whose
    /// task was already past its question when this attempt began).
    func poll(_ taskID: String, into state: inout A2ATask) async throws {
        while true {
            let task = try await request("GetTask", .object(["id": .string(taskID)]))
            try await state.apply(result: .object(["task": task]), context: context)
            if state.isFinal { return }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// A streaming call (`SendStreamingMessage`, `SubscribeToTask`), reading the
    /// server-sent events to the task's end.
    func stream(_ method: String, _ params: JSONValue, into state: inout A2ATask) async throws {
        let (head, chunks): (HTTPURLResponse, AsyncThrowingStream<Data, any Error>)
        do {
            (head, chunks) = try await StreamingTransfer.start(try urlRequest(method, params, accept: "text/event-stream"))
        } catch {
            throw HandlerError.transport(error, code: "a2a_unreachable", "a2a: \(method) to \(endpoint) failed")
        }
        if !(200..<300).contains(head.statusCode) {
            var data = Data()
            for try await chunk in chunks where data.count < 65_536 { data.append(chunk) }
            try Self.checkStatus(head, data)
        }
        var decoder = SSEDecoder()
        do {
            for try await chunk in chunks {
                for event in try decoder.push(chunk) {
                    guard let reply = try? JSONDecoder().decode(JSONValue.self, from: Data(event.data.utf8)) else {
                        throw HandlerError(code: "a2a_bad_response", message: "a2a: an event that is not JSON-RPC: \(event.data.prefix(200))")
                    }
                    try await state.apply(result: try Self.result(of: reply, method), context: context)
                }
                if state.isFinal { break }
            }
        } catch {
            throw HandlerError.transport(error, code: "a2a_stream_incomplete", "a2a: the stream broke off")
        }
        guard state.isFinal || state.state == "TASK_STATE_INPUT_REQUIRED" else {
            throw HandlerError(code: "a2a_stream_incomplete",
                               message: "a2a: the stream ended while the task was \(state.state ?? "not yet created")")
        }
    }

    /// Best effort, after the node was cancelled: tell the agent to stop the task.
    func cancelDetached(_ taskID: String) {
        let call = self
        Task.detached {
            _ = try? await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await call.request("CancelTask", .object(["id": .string(taskID)])) }
                group.addTask { try await Task.sleep(for: .seconds(10)) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    static func checkStatus(_ response: URLResponse, _ data: Data) throws {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw HandlerError(code: "a2a_http_\(status)", message: "a2a: the agent answered HTTP \(status): \(String(decoding: data.prefix(300), as: UTF8.self))",
                               retryable: status >= 500 || status == 429 || status == 408,
                               retryAfter: RetryAfter.parse((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After"), now: Date()))
        }
    }

    /// A JSON-RPC reply's result, or its error as a handler error (internal and server
    /// errors retryable, the rest not).
    static func result(of reply: JSONValue, _ method: String) throws -> JSONValue {
        if let error = reply["error"] {
            let code = error["code"]?.integer(in: Int(Int32.min)...Int(Int32.max)) ?? 0
            // A2A's own codes (-32001 task not found, -32002 not cancelable, …) are answers,
            // not outages: only an internal error is worth another attempt.
            throw HandlerError(code: "a2a_error", message: "a2a: \(method) failed (\(code)): \(error["message"]?.stringValue ?? "\(error)")",
                               retryable: code == -32603)
        }
        guard let result = reply["result"] else {
            throw HandlerError(code: "a2a_bad_response", message: "a2a: \(method) answered without result or error")
        }
        return result
    }
}

/// What the agent has said about the task so far.
struct A2ATask: Sendable {
    var taskID: String?
    var contextID: String?
    var state: String?
    var statusText: String?
    var artifacts: [(id: String, name: String?, parts: [JSONValue])] = []
    /// A direct reply (a Message instead of a Task).
    var reply: JSONValue?

    static let terminal: Set<String> = ["TASK_STATE_COMPLETED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_REJECTED",
                                        "TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"]
    /// Set while a follow-up answer is on its way: the task is still input-required until
    /// the agent takes the answer, so that state ends nothing until another was seen.
    var answering = false
    var isFinal: Bool {
        reply != nil || (state.map(Self.terminal.contains) == true && !(answering && state == "TASK_STATE_INPUT_REQUIRED"))
    }

    /// Applies one result: a Task, a Message, a status update or an artifact update.
    mutating func apply(result: JSONValue, context: NodeContext) async throws {
        if let task = result["task"] {
            taskID = task["id"]?.stringValue ?? taskID
            contextID = task["contextId"]?.stringValue ?? contextID
            try await status(task["status"], context: context)
            for artifact in task["artifacts"]?.arrayValue ?? [] { try await add(artifact, append: false, context: context) }
        } else if let update = result["statusUpdate"] {
            taskID = update["taskId"]?.stringValue ?? taskID
            contextID = update["contextId"]?.stringValue ?? contextID
            try await status(update["status"], context: context)
        } else if let update = result["artifactUpdate"], let artifact = update["artifact"] {
            taskID = update["taskId"]?.stringValue ?? taskID
            try await add(artifact, append: update["append"] == .bool(true), context: context)
        } else if let message = result["message"] {
            reply = message
            contextID = message["contextId"]?.stringValue ?? contextID
        }
    }

    private mutating func status(_ status: JSONValue?, context: NodeContext) async throws {
        guard let status, let newState = status["state"]?.stringValue else { return }
        if newState != "TASK_STATE_INPUT_REQUIRED" { answering = false }
        state = newState
        let text = Self.text(of: status["message"]?["parts"]?.arrayValue ?? [])
        if !text.isEmpty {
            statusText = text
            await context.reporter.log(text, kind: "agent_message")
        }
        await context.reporter.progress(nil, Self.short(newState))
    }

    private mutating func add(_ artifact: JSONValue, append: Bool, context: NodeContext) async throws {
        let id = artifact["artifactId"]?.stringValue ?? UUID().uuidString
        var parts: [JSONValue] = []
        for part in artifact["parts"]?.arrayValue ?? [] { parts.append(try await Self.stored(part, context: context)) }
        if append, let index = artifacts.firstIndex(where: { $0.id == id }) {
            artifacts[index].parts += parts
        } else if let index = artifacts.firstIndex(where: { $0.id == id }) {
            artifacts[index] = (id, artifact["name"]?.stringValue, parts)
        } else {
            artifacts.append((id, artifact["name"]?.stringValue, parts))
        }
    }

    /// A file part carrying bytes (`raw`, base64) is stored as a Trellis artifact and
    /// referenced instead; other parts are kept as they are.
    static func stored(_ part: JSONValue, context: NodeContext) async throws -> JSONValue {
        guard case .string(let encoded)? = part["raw"], let bytes = Data(base64Encoded: encoded) else { return part }
        let name = part["filename"]?.stringValue ?? "a2a-artifact"
        let reference = try await context.artifacts.put(bytes, name: name, mediaType: part["mediaType"]?.stringValue ?? "application/octet-stream")
        return .object(["file": reference.json])
    }

    static func text(of parts: [JSONValue]) -> String {
        parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
    }

    static func short(_ state: String) -> String {
        state.replacingOccurrences(of: "TASK_STATE_", with: "").lowercased().replacingOccurrences(of: "_", with: "-")
    }

    func output() throws -> JSONValue {
        if let reply {
            return .object(["context_id": contextID.map(JSONValue.string) ?? .null, "state": .string("message"),
                            "text": .string(Self.text(of: reply["parts"]?.arrayValue ?? [])), "message": reply, "artifacts": .array([])])
        }
        switch state {
        case "TASK_STATE_COMPLETED"?:
            break
        default:
            throw HandlerError(code: "a2a_task_\(Self.short(state ?? "unknown").replacingOccurrences(of: "-", with: "_"))",
                               message: "a2a: task \(taskID ?? "?") ended \(Self.short(state ?? "unknown")): \(statusText ?? "")", retryable: false)
        }
        let list: [JSONValue] = artifacts.map { artifact in
            .object(["artifact_id": .string(artifact.id), "name": artifact.name.map(JSONValue.string) ?? .null,
                     "parts": .array(artifact.parts), "text": .string(Self.text(of: artifact.parts))])
        }
        return .object(["task_id": taskID.map(JSONValue.string) ?? .null, "context_id": contextID.map(JSONValue.string) ?? .null,
                        "state": .string("completed"), "artifacts": .array(list),
                        "text": .string(artifacts.map { Self.text(of: $0.parts) }.filter { !$0.isEmpty }.joined(separator: "\n")),
                        "message": statusText.map(JSONValue.string) ?? .null])
    }
}
