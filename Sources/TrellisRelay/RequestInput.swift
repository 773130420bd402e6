import Foundation
import Hummingbird
import NIOCore

/// What a request carries — its JSON body, path ids, query integers — read once, with a
/// 400 `invalid_input`/`invalid_json` naming the offending item when it is not what the
/// route expects.
enum RequestInput {
    /// The request body as a JSON object (empty body: `{}`), at most `limit` bytes.
    static func object(_ request: Request, limit: Int) async throws -> [String: Any] {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        if buffer.readableBytes == 0 { return [:] }
        guard let value = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [.fragmentsAllowed]) else {
            throw RelayError(.badRequest, "invalid_json", "request body is not valid JSON")
        }
        guard let object = value as? [String: Any] else {
            throw RelayError(.badRequest, "invalid_json", "request body must be a JSON object")
        }
        return object
    }

    static func json(_ value: Any) throws -> String {
        // A number past double range (1e400) parses as infinity, which JSON cannot carry back.
        guard JSONSerialization.isValidJSONObject([value]),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) else {
            throw RelayError(.badRequest, "invalid_json", "request body holds a value JSON cannot carry (a number such as 1e400?)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func uuid(_ text: String, _ what: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw RelayError(.badRequest, "invalid_input", "\"\(text)\" is not a \(what) id (a UUID)") }
        return id
    }

    static func integer(_ text: String?, _ name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text) else { throw RelayError(.badRequest, "invalid_input", "\(name) must be an integer, got \"\(text)\"") }
        return value
    }

    /// The request body as text, at most `limit` bytes.
    static func text(_ request: Request, limit: Int) async throws -> String {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        return String(decoding: buffer.readableBytesView, as: UTF8.self)
    }

    /// Rejects fields other than `allowed`, naming the first unknown one.
    static func requireKnown(_ body: [String: Any], _ allowed: [String]) throws {
        for key in body.keys.sorted() where !allowed.contains(key) {
            throw RelayError(.badRequest, "invalid_input", "unknown field \"\(key)\" (expected \(allowed.joined(separator: ", ")))")
        }
    }

    /// A string field, or nil when absent; 400 when present with another type.
    static func string(_ body: [String: Any], _ key: String) throws -> String? {
        guard let value = body[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw RelayError(.badRequest, "invalid_input", "\(key) must be a string") }
        return text
    }

    /// An integer field, or nil when absent; 400 when present with another type.
    static func integer(_ body: [String: Any], _ key: String) throws -> Int? {
        guard let value = body[key], !(value is NSNull) else { return nil }
        guard let number = Int(try json(value)) else { throw RelayError(.badRequest, "invalid_input", "\(key) must be an integer") }
        return number
    }

    /// A boolean field, or nil when absent; 400 when present with another type.
    static func bool(_ body: [String: Any], _ key: String) throws -> Bool? {
        guard let value = body[key], !(value is NSNull) else { return nil }
        switch try json(value) {
        case "true": return true
        case "false": return false
        default: throw RelayError(.badRequest, "invalid_input", "\(key) must be true or false")
        }
    }

    /// An RFC 3339 time field (with or without fractional seconds), or nil when absent.
    static func time(_ body: [String: Any], _ key: String) throws -> Date? {
        guard let text = try string(body, key) else { return nil }
        let plain = Date.ISO8601FormatStyle(includingFractionalSeconds: false), fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = (try? plain.parse(text)) ?? (try? fractional.parse(text)) else {
            throw RelayError(.badRequest, "invalid_input", "\(key) must be an RFC 3339 time such as 2026-12-31T00:00:00Z")
        }
        return date
    }
}
