import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TrellisCore

/// `http`: a JSON request — the agent/tool protocol. `config.url` (required),
/// `config.method` (default POST when there is a body, else GET), `config.headers`; the
/// body is `input.body`, or the whole input for POST/PUT/PATCH. Returns `{"status",
/// "body"}` (body parsed as JSON when it is JSON). A non-2xx status fails the attempt:
/// 5xx, 408 and 429 are retryable (after Retry-After, when the server sends one), other 4xx are not; network errors and timeouts are
/// retryable. The node's `timeout` cancels the request (the scheduler enforces it).
/// A response body is read up to `config.max_response_bytes` (default 5 MiB, at most
/// 64 MiB): past it the transfer is stopped and the attempt fails with
/// `response_too_large` (not retryable). With `config.response_artifact` (a file name) the
/// body is stored as an artifact of the node instead, with the response's media type, and
/// the output is `{"status", "artifact": {"$artifact", "name", "media_type", "size"}}` —
/// how a workflow downloads a file without writing Swift.
public struct HTTPHandler: NodeHandler {
    public let name = "http"
    public static let defaultMaxResponseBytes = 5 << 20
    public static let maxResponseBytesLimit = 64 << 20

    public init() {}

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        guard let text = context.config["url"]?.stringValue, let url = URL(string: text),
              let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme)
        else {
            throw HandlerError(code: "invalid_config", message: "http: config.url must be an http(s) URL", retryable: false)
        }
        var body: JSONValue? = context.input["body"]
        let method = context.config["method"]?.stringValue?.uppercased() ?? (body == nil ? "GET" : "POST")
        if body == nil, ["POST", "PUT", "PATCH"].contains(method), context.input != .object([:]) {
            body = context.input
        }
        guard ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(method) else {
            throw HandlerError(code: "invalid_config", message: "http: unsupported method \(method)", retryable: false)
        }
        if method == "GET" || method == "HEAD" { body = nil }
        let artifactName = context.config["response_artifact"]
        if let artifactName, artifactName.stringValue?.isEmpty != false {
            throw HandlerError(code: "invalid_config", message: "http: config.response_artifact must be a non-empty file name", retryable: false)
        }
        guard let cap = (context.config["max_response_bytes"] ?? .number(Double(Self.defaultMaxResponseBytes)))
            .integer(in: 1...Self.maxResponseBytesLimit) else {
            throw HandlerError(code: "invalid_config", message: "http: config.max_response_bytes must be a whole number from 1 to \(Self.maxResponseBytesLimit)", retryable: false)
        }

        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue(context.idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
        if case .object(let headers)? = context.config["headers"] {
            for (name, value) in headers {
                if let value = value.stringValue { request.setValue(value, forHTTPHeaderField: name) }
            }
        }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONEncoder().encode(body)
        }

        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await CappedTransfer(cap: cap).run(request)
        } catch {
            throw HandlerError.transport(error, code: "http_unreachable", "http: \(method) \(text) failed")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        if let name = artifactName?.stringValue, (200..<300).contains(status) {
            let mediaType = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")
                .map { String($0.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces) } ?? "application/octet-stream"
            let stored = try await context.artifacts.put(data, name: name, mediaType: mediaType.isEmpty ? "application/octet-stream" : mediaType)
            return HandlerOutput(.object(["status": .number(Double(status)), "artifact": stored.json]))
        }
        let parsed: JSONValue = (try? JSONDecoder().decode(JSONValue.self, from: data))
            ?? .string(String(decoding: data.prefix(65_536), as: UTF8.self))
        guard (200..<300).contains(status) else {
            let retryable = status >= 500 || status == 408 || status == 429
            let snippet = String(decoding: data.prefix(200), as: UTF8.self)
            throw HandlerError(code: "http_\(status)", message: "http: \(method) \(text) returned \(status): \(snippet)", retryable: retryable,
                               retryAfter: RetryAfter.parse((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After"), now: Date()))
        }
        return HandlerOutput(.object(["status": .number(Double(status)), "body": parsed]))
    }
}
