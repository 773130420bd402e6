import Foundation
import Yams

/// Workflow definitions and templates are JSON or YAML documents. JSON passes through as
/// written (PostgreSQL parses it, and its errors name the line); YAML is converted to JSON.
public enum DefinitionDocument {
    public enum Format: String, Sendable {
        case json
        case yaml
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// JSON for `.yaml`/`.yml` files (or any text that does not start like JSON).
    public static func format(fileName: String, contents: String) -> Format {
        let lower = fileName.lowercased()
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return .yaml }
        if lower.hasSuffix(".json") { return .json }
        let first = contents.first { !$0.isWhitespace }
        return first == "{" || first == "[" ? .json : .yaml
    }

    /// The document as JSON text.
    public static func jsonText(fileName: String, contents: String) throws -> String {
        switch format(fileName: fileName, contents: contents) {
        case .json:
            return contents
        case .yaml:
            let value: Any?
            do {
                value = try Yams.load(yaml: contents)
            } catch {
                throw ParseError(description: "\(fileName) is not valid YAML: \(oneLine(String(describing: error)))")
            }
            let object = try jsonCompatible(value, fileName: fileName)
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// YAML values as JSONSerialization accepts them (string keys, NSNull for null).
    static func jsonCompatible(_ value: Any?, fileName: String) throws -> Any {
        switch value {
        case nil, is NSNull:
            return NSNull()
        case let dictionary as [AnyHashable: Any]:
            var result: [String: Any] = [:]
            for (key, item) in dictionary {
                guard let key = key.base as? String else {
                    throw ParseError(description: "\(fileName): mapping key \(key) is not a string")
                }
                result[key] = try jsonCompatible(item, fileName: fileName)
            }
            return result
        case let array as [Any?]:
            return try array.map { try jsonCompatible($0, fileName: fileName) }
        case let string as String:
            return string
        case let bool as Bool:
            return bool
        case let int as Int:
            return int
        case let double as Double:
            guard double.isFinite else { throw ParseError(description: "\(fileName): \(double) is not a JSON number") }
            return double
        case let date as Date:
            return ISO8601DateFormatter().string(from: date)
        case let data as Data:
            return data.base64EncodedString()
        default:
            return String(describing: value!)
        }
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
