import Foundation

/// A Swift value that can be bound as a query parameter. Values travel in PostgreSQL's
/// text format with an unspecified type, so the server infers the type from context
/// (`$1::jsonb` when it cannot). Nothing is ever spliced into SQL text.
public protocol PGEncodable: Sendable {
    /// The value in PostgreSQL's text input format.
    func pgText() throws -> String
}

extension String: PGEncodable {
    public func pgText() throws -> String { self }
}

extension Substring: PGEncodable {
    public func pgText() throws -> String { String(self) }
}

extension Int: PGEncodable {
    public func pgText() throws -> String { String(self) }
}

extension Int32: PGEncodable {
    public func pgText() throws -> String { String(self) }
}

extension Int64: PGEncodable {
    public func pgText() throws -> String { String(self) }
}

extension Double: PGEncodable {
    public func pgText() throws -> String {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        return String(self)
    }
}

extension Bool: PGEncodable {
    public func pgText() throws -> String { self ? "t" : "f" }
}

extension Decimal: PGEncodable {
    public func pgText() throws -> String { description }
}

extension UUID: PGEncodable {
    public func pgText() throws -> String { uuidString.lowercased() }
}

extension Date: PGEncodable {
    public func pgText() throws -> String { PGTimestamp.format(self) }
}

extension Data: PGEncodable {
    /// `bytea` hex format.
    public func pgText() throws -> String { Hex.lowercase(self, prefix: #"\x"#) }
}

extension Array: PGEncodable where Element: PGEncodable {
    /// A one-dimensional array literal; every element is quoted and escaped.
    public func pgText() throws -> String {
        let items = try map { element -> String in
            let text = try element.pgText()
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "{" + items.joined(separator: ",") + "}"
    }
}

extension Optional: PGEncodable where Wrapped: PGEncodable {
    /// Optional values are unwrapped by the connection before encoding; `nil` is SQL NULL.
    public func pgText() throws -> String {
        guard let self else {
            throw PGError(kind: .encoding, message: "nil has no text form; pass it as NULL")
        }
        return try self.pgText()
    }
}

/// A JSON document bound as text and decoded from `json`/`jsonb` columns.
public struct PGJSON: PGEncodable, PGDecodable, Hashable, CustomStringConvertible {
    /// The JSON text exactly as it was given or as the server printed it.
    public var text: String

    public init(text: String) { self.text = text }

    /// Encodes a value with sorted keys, so equal values give equal text.
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PGError(kind: .decoding, message: "cannot decode JSON as \(T.self): \(error)")
        }
    }

    /// The document parsed into Foundation objects (`[String: Any]`, arrays, numbers).
    public func object() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    public func pgText() throws -> String { text }
    public init(pgText: String) throws { text = pgText }
    public var description: String { text }
}

extension Optional where Wrapped == any PGEncodable {
    /// The text to send, or nil for SQL NULL. Rejects NUL bytes, which PostgreSQL text
    /// cannot hold and a C string would silently truncate at.
    func encodedParameter(index: Int) throws -> String? {
        guard let value = self else { return nil }
        if let optional = value as? any OptionalProtocol, optional.isNil { return nil }
        var text = try value.pgText()
        // memchr over the contiguous UTF-8: a generic scan of a MiB artifact chunk's
        // two MiB of hex was most of its upload time in a debug build.
        if text.withUTF8({ utf8 in utf8.baseAddress.map { memchr($0, 0, utf8.count) != nil } ?? false }) {
            throw PGError(
                kind: .encoding,
                message: "parameter $\(index) contains a NUL byte, which PostgreSQL text cannot store")
        }
        return text
    }
}

/// Lets the encoder see through `Optional<Wrapped>` values boxed as `any PGEncodable`.
protocol OptionalProtocol {
    var isNil: Bool { get }
}

extension Optional: OptionalProtocol {
    var isNil: Bool { self == nil }
}
