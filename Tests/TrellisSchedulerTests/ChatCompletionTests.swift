import Foundation
import Testing
import TrellisCore
@testable import TrellisScheduler

/// The plain values behind the `llm` handler, without a network.
@Suite("Chat completions (values)")
struct ChatCompletionTests {
    static func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test func chunksAssembleContentReasoningToolCallsAndUsage() throws {
        var completion = ChatCompletion()
        let chunks = [
            #"{"id":"c","object":"chat.completion.chunk","model":"m-1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            #"{"id":"c","model":"m-1","choices":[{"index":0,"delta":{"reasoning_content":"Think"},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m-1","choices":[{"index":0,"delta":{"reasoning":"ing."},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m-1","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"x\"}"}}]},"finish_reason":"tool_calls"}]}"#,
            #"{"id":"c","model":"m-1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#,
        ]
        var deltas: [ChatCompletion.Delta] = []
        for chunk in chunks { deltas += try completion.apply(chunk: try Self.json(chunk)) }
        #expect(deltas.map(\.kind) == ["thinking", "thinking", "agent_message", "tool_call", "tool_call", "tool_call"])
        let output = try completion.output(parseJSON: false)
        #expect(output["content"] == .string("Hello") && output["reasoning"] == .string("Thinking."))
        #expect(output["finish_reason"] == .string("tool_calls") && output["model"] == .string("m-1"))
        #expect(output["tool_calls"] == .array([.object(["id": .string("call_1"), "type": .string("function"),
                                                         "function": .object(["name": .string("lookup"), "arguments": .string(#"{"q":"x"}"#)])])]))
        #expect(completion.promptTokens == 12 && completion.completionTokens == 5)
        // An error mid-stream is an error, not content.
        #expect(throws: ChatCompletion.ServerError.self) { try completion.apply(chunk: try Self.json(#"{"error":{"message":"overloaded"}}"#)) }
    }

    @Test func wholeResponsesAndJSONContent() throws {
        let completion = try ChatCompletion(response: try Self.json("""
            {"id":"x","object":"chat.completion","model":"m-2","choices":[{"index":0,"message":{"role":"assistant",
             "content":"```json\\n{\\"steps\\": [1, 2]}\\n```"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}
            """))
        let output = try completion.output(parseJSON: true)
        #expect(output["json"] == .object(["steps": .array([.number(1), .number(2)])]))
        #expect(output["tool_calls"] == nil && output["reasoning"] == nil)
        let prose = try ChatCompletion(response: try Self.json(#"{"choices":[{"message":{"content":"not json"},"finish_reason":"stop"}]}"#))
        #expect(throws: HandlerError.self) { try prose.output(parseJSON: true) }
        #expect(throws: ChatCompletion.ServerError.self) { try ChatCompletion(response: try Self.json(#"{"choices":[]}"#)) }
    }

    @Test func logLinesAreCoalescedToABoundedRate() {
        let start = ContinuousClock.now
        var coalescer = LogCoalescer(interval: .milliseconds(250), maxBytes: 100, now: start)
        var lines: [ChatCompletion.Delta] = []
        // 200 one-word deltas over one simulated second.
        for index in 0..<200 {
            let kind = index < 20 ? "thinking" : "agent_message"
            lines += coalescer.add([.init(kind: kind, text: "w ")], now: start + .milliseconds(index * 5))
        }
        lines += coalescer.flush(now: start + .seconds(1))
        #expect(lines.count <= 12 && lines.count >= 4, "\(lines.count) lines")
        #expect(lines.filter { $0.kind == "thinking" }.map(\.text).joined() == String(repeating: "w ", count: 20))
        #expect(lines.filter { $0.kind == "agent_message" }.map(\.text).joined() == String(repeating: "w ", count: 180))
        #expect(lines.allSatisfy { $0.text.utf8.count <= 100 + 2 })
    }

    @Test func configurationNamesKeysByEnvironmentAndPricesPerMillionTokens() throws {
        let configuration = try LLMConfiguration.parse("""
            credentials:
              prod: {base_url: "https://api.example.com/v1", api_key_env: TEST_KEY}
              local: {base_url: "http://127.0.0.1:8000/v1"}
            prices:
              m-1: {input: 0.15, output: 0.60}
            """, environment: ["TEST_KEY": "sk-123"])
        #expect(configuration.credentials["prod"]?.apiKey == "sk-123" && configuration.credentials["local"]?.apiKey == nil)
        #expect(configuration.prices["m-1"]?.cost(promptTokens: 1_000_000, completionTokens: 500_000) == Decimal(string: "0.45"))
        let bad: [(String, String)] = [
            ("credentials: {p: {base_url: x}}", "base_url"),
            ("credentials: {p: {base_url: \"http://h\", api_key_env: MISSING}}", "MISSING is not set"),
            ("prices: {m: {input: 1}}", "prices.m"),
            ("pricing: {}", "unknown key \"pricing\""),
        ]
        for (text, fragment) in bad {
            let error = #expect(throws: LLMConfiguration.Invalid.self) { try LLMConfiguration.parse(text, environment: [:]) }
            #expect(error?.description.contains(fragment) == true, "\(text): \(String(describing: error))")
        }
    }

    @Test func retryAfterIsSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        #expect(RetryAfter.parse("2", now: now) == .seconds(2))
        #expect(RetryAfter.parse("0.5", now: now) == .milliseconds(500))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(RetryAfter.parse(formatter.string(from: now.addingTimeInterval(30)), now: now) == .seconds(30))
        #expect(RetryAfter.parse("soon", now: now) == nil && RetryAfter.parse(nil, now: now) == nil)
    }
}
