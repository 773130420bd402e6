import Foundation
import TrellisCore

/// An OpenAI-compatible chat completion assembled from what the server sends: the chunks
/// of a stream (`chat.completion.chunk`, each a `delta`) or one whole response. A plain
/// value, tested without a network; the `llm` handler feeds it.
struct ChatCompletion: Sendable, Equatable {
    var content = ""
    /// Reasoning text (`reasoning_content`, as vLLM and DeepSeek send it, or `reasoning`).
    var reasoning = ""
    var toolCalls: [Int: ToolCall] = [:]
    var finishReason: String?
    var usage: JSONValue?
    var model: String?

    struct ToolCall: Sendable, Equatable {
        var id = ""
        var type = "function"
        var name = ""
        var arguments = ""
    }

    /// Text a chunk added, by `node.log` kind: `agent_message`, `thinking`, `tool_call`.
    struct Delta: Sendable, Equatable {
        var kind: String
        var text: String
    }

    /// The server reported an error inside the stream or the body.
    struct ServerError: Error, Sendable {
        var message: String
    }

    /// Applies one stream chunk; returns the text it added, for the log.
    mutating func apply(chunk: JSONValue) throws -> [Delta] {
        if let error = chunk["error"] {
            throw ServerError(message: error["message"]?.stringValue ?? "\(error)")
        }
        if let name = chunk["model"]?.stringValue { model = name }
        if let usage = chunk["usage"], usage != .null { self.usage = usage }
        var deltas: [Delta] = []
        for choice in chunk["choices"]?.arrayValue ?? [] where (choice["index"]?.integer(in: 0...Int.max) ?? 0) == 0 {
            if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
            guard let delta = choice["delta"] else { continue }
            if let text = (delta["reasoning_content"] ?? delta["reasoning"])?.stringValue, !text.isEmpty {
                reasoning += text
                deltas.append(Delta(kind: "thinking", text: text))
            }
            if let text = delta["content"]?.stringValue, !text.isEmpty {
                content += text
                deltas.append(Delta(kind: "agent_message", text: text))
            }
            for call in delta["tool_calls"]?.arrayValue ?? [] {
                let index = call["index"]?.integer(in: 0...1_000) ?? toolCalls.count
                var merged = toolCalls[index] ?? ToolCall()
                if let id = call["id"]?.stringValue { merged.id = id }
                if let type = call["type"]?.stringValue { merged.type = type }
                if let name = call["function"]?["name"]?.stringValue {
                    merged.name += name
                    deltas.append(Delta(kind: "tool_call", text: "\(name)("))
                }
                if let arguments = call["function"]?["arguments"]?.stringValue, !arguments.isEmpty {
                    merged.arguments += arguments
                    deltas.append(Delta(kind: "tool_call", text: arguments))
                }
                toolCalls[index] = merged
            }
        }
        return deltas
    }

    /// Reads a whole (non-streamed) response.
    init(response: JSONValue) throws {
        if let error = response["error"] {
            throw ServerError(message: error["message"]?.stringValue ?? "\(error)")
        }
        model = response["model"]?.stringValue
        usage = response["usage"].flatMap { $0 == .null ? nil : $0 }
        guard let choice = response["choices"]?.arrayValue?.first else {
            throw ServerError(message: "the response has no choices")
        }
        finishReason = choice["finish_reason"]?.stringValue
        let message = choice["message"] ?? .object([:])
        content = message["content"]?.stringValue ?? ""
        reasoning = (message["reasoning_content"] ?? message["reasoning"])?.stringValue ?? ""
        for (index, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
            toolCalls[index] = ToolCall(id: call["id"]?.stringValue ?? "", type: call["type"]?.stringValue ?? "function",
                                        name: call["function"]?["name"]?.stringValue ?? "",
                                        arguments: call["function"]?["arguments"]?.stringValue ?? "")
        }
    }

    init() {}

    var promptTokens: Int? { usage?["prompt_tokens"]?.integer(in: 0...Int.max) }
    var completionTokens: Int? { usage?["completion_tokens"]?.integer(in: 0...Int.max) }

    /// The node's output: `content`, `finish_reason`, `usage`, `model`, and `tool_calls`
    /// and `reasoning` when there are any; `json` holds the content parsed when asked.
    func output(parseJSON: Bool) throws -> JSONValue {
        var output: [String: JSONValue] = [
            "content": .string(content),
            "finish_reason": finishReason.map(JSONValue.string) ?? .null,
            "usage": usage ?? .null,
            "model": model.map(JSONValue.string) ?? .null,
        ]
        if !toolCalls.isEmpty {
            output["tool_calls"] = .array(toolCalls.keys.sorted().map { index in
                let call = toolCalls[index]!
                return .object(["id": .string(call.id), "type": .string(call.type),
                                "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)])])
            })
        }
        if !reasoning.isEmpty { output["reasoning"] = .string(reasoning) }
        if parseJSON {
            do {
                output["json"] = try JSONDecoder().decode(JSONValue.self, from: Data(Self.unfenced(content).utf8))
            } catch {
                throw HandlerError(code: "invalid_json_content", message: "llm: the content is not JSON (config.parse_json): \(String(content.prefix(200)))",
                                   retryable: false)
            }
        }
        return .object(output)
    }

    /// Content without a surrounding Markdown code fence, which models often add.
    static func unfenced(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("```"), trimmed.hasSuffix("```"), trimmed.count >= 6 else { return trimmed }
        var body = trimmed.dropFirst(3).dropLast(3)
        if let newline = body.firstIndex(of: "\n") { body = body[body.index(after: newline)...] }
        return body.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Coalesces streamed text into `node.log` lines at a bounded rate: text is held until
/// `interval` has passed since the last flush or `maxBytes` are pending, then sent as one
/// line per run of the same kind — a long answer is a few lines a second, not a line per
/// token.
struct LogCoalescer: Sendable {
    let interval: Duration
    let maxBytes: Int
    private var pending: [ChatCompletion.Delta] = []
    private var pendingBytes = 0
    private var lastFlush: ContinuousClock.Instant

    init(interval: Duration, maxBytes: Int = 4_096, now: ContinuousClock.Instant) {
        self.interval = interval
        self.maxBytes = maxBytes
        self.lastFlush = now
    }

    /// Adds text; returns the lines due now.
    mutating func add(_ deltas: [ChatCompletion.Delta], now: ContinuousClock.Instant) -> [ChatCompletion.Delta] {
        for delta in deltas {
            if let last = pending.last, last.kind == delta.kind {
                pending[pending.count - 1].text += delta.text
            } else {
                pending.append(delta)
            }
            pendingBytes += delta.text.utf8.count
        }
        guard !pending.isEmpty, pendingBytes >= maxBytes || now - lastFlush >= interval else { return [] }
        return flush(now: now)
    }

    /// Everything pending (the stream ended).
    mutating func flush(now: ContinuousClock.Instant) -> [ChatCompletion.Delta] {
        defer {
            pending = []
            pendingBytes = 0
            lastFlush = now
        }
        return pending
    }
}
