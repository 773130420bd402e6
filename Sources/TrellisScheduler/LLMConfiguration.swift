import Foundation
import TrellisCore

/// What the `llm` handler needs from the scheduler's side: named credentials (a base URL
/// and an API key, taken from the environment by name) and a price per model. Workflow
/// definitions name credentials only (`credentials: openai_prod`); keys never enter a
/// definition, an input, an output or an event. A YAML or JSON file:
///
/// ```yaml
/// credentials:
///   openai_prod: {base_url: https://api.openai.com/v1, api_key_env: OPENAI_API_KEY}
///   local: {base_url: http://127.0.0.1:8000/v1}          # no key (vLLM, llama.cpp, Ollama)
/// prices:                                                  # USD per million tokens
///   gpt-4o-mini: {input: 0.15, output: 0.60}
/// ```
public struct LLMConfiguration: Sendable {
    public struct Credential: Sendable {
        public var baseURL: URL
        public var apiKey: String?
        public var headers: [String: String]

        public init(baseURL: URL, apiKey: String? = nil, headers: [String: String] = [:]) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.headers = headers
        }

        /// What every request made with these credentials carries: the extra headers, and
        /// the key as `Authorization: Bearer …` (over any Authorization among them).
        public var requestHeaders: [String: String] {
            var all = headers
            if let apiKey { all["Authorization"] = "Bearer \(apiKey)" }
            return all
        }
    }

    /// Per million tokens.
    public struct Price: Sendable, Equatable {
        public var input: Decimal
        public var output: Decimal

        public init(input: Decimal, output: Decimal) {
            self.input = input
            self.output = output
        }

        /// The cost of one call.
        public func cost(promptTokens: Int, completionTokens: Int) -> Decimal {
            (input * Decimal(promptTokens) + output * Decimal(completionTokens)) / 1_000_000
        }
    }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var credentials: [String: Credential]
    public var prices: [String: Price]

    /// The credentials a node names in `config.credentials`; unknown ones are a
    /// non-retryable `unknown_credentials` naming the known ones. `source` is how the
    /// handler's message calls this configuration.
    func credential(named name: String, for handler: String, source: String) throws -> Credential {
        guard let credential = credentials[name] else {
            let known = credentials.keys.sorted().joined(separator: ", ")
            throw HandlerError(code: "unknown_credentials",
                               message: "\(handler): no credentials named \"\(name)\" in this scheduler's \(source) (known: \(known.isEmpty ? "none; start it with --llm-config FILE" : known))",
                               retryable: false)
        }
        return credential
    }

    public init(credentials: [String: Credential] = [:], prices: [String: Price] = [:]) {
        self.credentials = credentials
        self.prices = prices
    }

    /// Reads a configuration file; `environment` supplies the keys named by `api_key_env`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LLMConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Invalid(description: "cannot read the LLM configuration \(path)")
        }
        return try parse(text, fileName: path, environment: environment)
    }

    public static func parse(_ text: String, fileName: String = "llm.yaml", environment: [String: String]) throws -> LLMConfiguration {
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(try DefinitionDocument.jsonText(fileName: fileName, contents: text).utf8))
        } catch let error as DefinitionDocument.ParseError {
            throw Invalid(description: error.description)
        } catch {
            throw Invalid(description: "\(fileName) is not valid JSON: \(error)")
        }
        guard case .object(let top) = json else { throw Invalid(description: "\(fileName): expected a mapping with credentials and prices") }
        for key in top.keys where !["credentials", "prices"].contains(key) {
            throw Invalid(description: "\(fileName): unknown key \"\(key)\" (expected credentials, prices)")
        }
        var configuration = LLMConfiguration()
        if case .object(let credentials)? = top["credentials"] {
            for (name, entry) in credentials {
                guard case .object(let fields) = entry else { throw Invalid(description: "\(fileName): credentials.\(name) must be a mapping") }
                for key in fields.keys where !["base_url", "api_key_env", "api_key", "headers"].contains(key) {
                    throw Invalid(description: "\(fileName): credentials.\(name): unknown key \"\(key)\" (expected base_url, api_key_env, api_key, headers)")
                }
                guard let text = fields["base_url"]?.stringValue, let url = URL(string: text),
                      ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
                    throw Invalid(description: "\(fileName): credentials.\(name).base_url must be an http(s) URL")
                }
                var key = fields["api_key"]?.stringValue
                if let variable = fields["api_key_env"]?.stringValue {
                    guard let value = environment[variable], !value.isEmpty else {
                        throw Invalid(description: "\(fileName): credentials.\(name): environment variable \(variable) is not set")
                    }
                    key = value
                }
                var headers: [String: String] = [:]
                if case .object(let extra)? = fields["headers"] {
                    for (header, value) in extra { headers[header] = value.stringValue ?? "" }
                }
                configuration.credentials[name] = Credential(baseURL: url, apiKey: key, headers: headers)
            }
        }
        if case .object(let prices)? = top["prices"] {
            for (model, entry) in prices {
                guard let input = entry["input"].flatMap(decimal), let output = entry["output"].flatMap(decimal), input >= 0, output >= 0 else {
                    throw Invalid(description: "\(fileName): prices.\(model) needs input and output, USD per million tokens (numbers ≥ 0)")
                }
                configuration.prices[model] = Price(input: input, output: output)
            }
        }
        return configuration
    }

    private static func decimal(_ value: JSONValue) -> Decimal? {
        switch value {
        case .number(let number) where number.isFinite: Decimal(string: String(number))
        case .string(let text): Decimal(string: text)
        default: nil
        }
    }
}
