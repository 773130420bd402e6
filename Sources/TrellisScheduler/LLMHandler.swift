import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TrellisCore

/// `llm`: one call to an OpenAI-compatible Chat Completions API (`POST
/// {base_url}/chat/completions`: OpenAI, vLLM, llama.cpp's server, Ollama, most gateways).
///
/// - `config.credentials` names an entry of the scheduler's LLM configuration (base URL and
///   key); `config.model` is required; `config.system` is the system prompt. The messages
///   are `input.messages` (chat messages, bound like any input) or `input.prompt` (one
///   user message). `tools`, `tool_choice`, `response_format`, `temperature`, `top_p`,
///   `max_tokens`, `seed` and `stop` pass through.
/// - Streamed by default (`config.stream`, true): reasoning, content and tool-call deltas
///   become `node.log` lines (`thinking`, `agent_message`, `tool_call`), coalesced to one
///   flush per `config.log_interval_ms` (250). The output is `{content, finish_reason,
///   usage, model}` plus `tool_calls` and `reasoning` when present, and `json` (the content
///   parsed) with `config.parse_json`.
/// - Cost: usage × the model's price in the configuration; tokens in and out are reported
///   with the result and stored on the node.
/// - 429, 5xx, 408, network errors and a stream cut before its end are retryable (Retry-After
///   honoured); other 4xx are not. The node's timeout and cancellation stop the stream.
public struct LLMHandler: NodeHandler {
    public let name = "llm"
    public let configuration: LLMConfiguration
    /// An error body is read up to this much, for the message.
    static let maxErrorBytes = 65_536
    static let passThrough = ["tools", "tool_choice", "response_format", "temperature", "top_p", "max_tokens", "seed", "stop"]

    public init(configuration: LLMConfiguration = LLMConfiguration()) {
        self.configuration = configuration
    }

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        let config = context.config
        guard let credentialName = config["credentials"]?.stringValue else {
            throw HandlerError(code: "invalid_config", message: "llm: config.credentials must name credentials of the scheduler's LLM configuration", retryable: false)
        }
        let credential = try configuration.credential(named: credentialName, for: "llm", source: "LLM configuration")
        guard let model = config["model"]?.stringValue, !model.isEmpty else {
            throw HandlerError(code: "invalid_config", message: "llm: config.model is required", retryable: false)
        }
        let stream = config["stream"].map { $0 == .bool(true) } ?? true
        let parseJSON = config["parse_json"] == .bool(true)
        guard let intervalMs = (config["log_interval_ms"] ?? .number(250)).integer(in: 0...60_000) else {
            throw HandlerError(code: "invalid_config", message: "llm: config.log_interval_ms must be 0 to 60000", retryable: false)
        }

        var body: [String: JSONValue] = ["model": .string(model), "messages": .array(try messages(context))]
        for key in Self.passThrough { if let value = config[key] { body[key] = value } }
        if stream {
            body["stream"] = .bool(true)
            body["stream_options"] = .object(["include_usage": .bool(true)])
        }
        var request = URLRequest(url: credential.baseURL.appending(path: "chat/completions"))
        request.httpMethod = "POST"
        request.timeoutInterval = 300  // between bytes; the node's timeout bounds the whole call
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(stream ? "text/event-stream" : "application/json", forHTTPHeaderField: "Accept")
        request.setValue(context.idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
        for (header, value) in credential.requestHeaders { request.setValue(value, forHTTPHeaderField: header) }
        request.httpBody = try JSONEncoder().encode(JSONValue.object(body))

        let (head, chunks): (HTTPURLResponse, AsyncThrowingStream<Data, any Error>)
        do {
            (head, chunks) = try await StreamingTransfer.start(request)
        } catch {
            throw HandlerError.transport(error, code: "llm_unreachable", "llm: POST \(request.url?.absoluteString ?? "") failed")
        }
        guard (200..<300).contains(head.statusCode) else {
            var data = Data()
            do {
                for try await chunk in chunks {
                    data.append(chunk.prefix(Self.maxErrorBytes - data.count))
                    if data.count >= Self.maxErrorBytes { break }
                }
            } catch {}
            try Task.checkCancellation()
            let status = head.statusCode
            let detail = (try? JSONDecoder().decode(JSONValue.self, from: data))?["error"]?["message"]?.stringValue
                ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw HandlerError(code: "llm_\(status)", message: "llm: \(model) returned \(status): \(detail)",
                               retryable: status >= 500 || status == 408 || status == 429,
                               retryAfter: RetryAfter.parse(head.value(forHTTPHeaderField: "Retry-After"), now: Date()))
        }

        var completion = ChatCompletion()
        let isStream = stream && (head.value(forHTTPHeaderField: "Content-Type") ?? "").lowercased().contains("text/event-stream")
        if isStream {
            completion = try await read(chunks, context: context, interval: .milliseconds(intervalMs), model: model)
        } else {
            var data = Data()
            do {
                for try await chunk in chunks { data.append(chunk) }
            } catch {
                throw HandlerError.transport(error, code: "llm_unreachable", "llm: reading the response of \(model) failed")
            }
            do {
                completion = try ChatCompletion(response: try JSONDecoder().decode(JSONValue.self, from: data))
            } catch let error as ChatCompletion.ServerError {
                throw HandlerError(code: "llm_error", message: "llm: \(model): \(error.message)", retryable: false)
            } catch {
                throw HandlerError(code: "llm_bad_response", message: "llm: \(model) answered with something that is not a chat completion",
                                   retryable: true)
            }
        }
        let prompt = completion.promptTokens, generated = completion.completionTokens
        let price = configuration.prices[completion.model ?? model] ?? configuration.prices[model]
        let cost = price.flatMap { price in prompt.map { price.cost(promptTokens: $0, completionTokens: generated ?? 0) } }
        return HandlerOutput(try completion.output(parseJSON: parseJSON), cost: cost, tokensIn: prompt, tokensOut: generated)
    }

    /// The request's messages: the system prompt, then `input.messages` or `input.prompt`.
    private func messages(_ context: NodeContext) throws -> [JSONValue] {
        var messages: [JSONValue] = []
        if let system = context.config["system"]?.stringValue {
            messages.append(.object(["role": .string("system"), "content": .string(system)]))
        }
        if let given = context.input["messages"] {
            guard let list = given.arrayValue, list.allSatisfy({ $0["role"]?.stringValue != nil }) else {
                throw HandlerError(code: "invalid_input", message: "llm: input.messages must be an array of {role, content}", retryable: false)
            }
            messages += list
        } else if let prompt = context.input["prompt"] {
            let text = prompt.stringValue ?? String(decoding: (try? JSONEncoder().encode(prompt)) ?? Data(), as: UTF8.self)
            messages.append(.object(["role": .string("user"), "content": .string(text)]))
        } else {
            throw HandlerError(code: "invalid_input", message: "llm: the input needs messages (an array) or prompt (a string)", retryable: false)
        }
        return messages
    }

    /// Reads a server-sent event stream to `[DONE]`, logging as it goes.
    private func read(_ chunks: AsyncThrowingStream<Data, any Error>, context: NodeContext, interval: Duration,
                      model: String) async throws -> ChatCompletion {
        var completion = ChatCompletion()
        var decoder = SSEDecoder()
        var coalescer = LogCoalescer(interval: interval, now: .now)
        var done = false
        func log(_ lines: [ChatCompletion.Delta]) async {
            for line in lines { await context.reporter.log(line.text, kind: line.kind) }
        }
        func apply(_ events: [SSEDecoder.Event]) async throws {
            for event in events where !done {
                if event.data == "[DONE]" {
                    done = true
                    continue
                }
                guard let chunk = try? JSONDecoder().decode(JSONValue.self, from: Data(event.data.utf8)) else {
                    throw HandlerError(code: "llm_bad_response", message: "llm: \(model) sent an event that is not JSON: \(event.data.prefix(200))")
                }
                do {
                    await log(coalescer.add(try completion.apply(chunk: chunk), now: .now))
                } catch let error as ChatCompletion.ServerError {
                    throw HandlerError(code: "llm_error", message: "llm: \(model) reported an error mid-stream: \(error.message)")
                }
            }
        }
        do {
            for try await chunk in chunks {
                try await apply(try decoder.push(chunk))
                if done { break }
            }
            if !done, let last = decoder.finish() { try await apply([last]) }
        } catch let error as HandlerError {
            await log(coalescer.flush(now: .now))
            throw error
        } catch {
            await log(coalescer.flush(now: .now))
            throw HandlerError.transport(error, code: "llm_stream_incomplete",
                                         "llm: the stream from \(model) broke off after \(completion.content.utf8.count) bytes of content")
        }
        await log(coalescer.flush(now: .now))
        guard done || completion.finishReason != nil else {
            throw HandlerError(code: "llm_stream_incomplete",
                               message: "llm: the stream from \(model) ended before it finished (\(completion.content.utf8.count) bytes of content so far)")
        }
        return completion
    }

}

/// The HTTP Retry-After header: delay-seconds or an HTTP date.
enum RetryAfter {
    static func parse(_ header: String?, now: Date) -> Duration? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty else { return nil }
        if let seconds = Double(header), seconds.isFinite, seconds >= 0 { return .milliseconds(Int64(min(seconds, 86_400) * 1000)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: header) else { return nil }
        return .milliseconds(Int64(max(0, min(date.timeIntervalSince(now), 86_400)) * 1000))
    }
}
