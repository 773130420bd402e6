import Foundation

/// A Swift type that can be read from a column in PostgreSQL's text output format.
public protocol PGDecodable: Sendable {
    init(pgText: String) throws
}

private func decodeFailure(_ text: String, _ type: Any.Type) -> PGError {
    let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
    return PGError(kind: .decoding, message: "cannot decode '\(shown)' as \(type)")
}

extension String: PGDecodable {
    public init(pgText: String) throws { self = pgText }
}

extension Int: PGDecodable {
    public init(pgText: String) throws {
        guard let value = Int(pgText) else { throw decodeFailure(pgText, Int.self) }
        self = value
    }
}

extension Int32: PGDecodable {
    public init(pgText: String) throws {
        guard let value = Int32(pgText) else { throw decodeFailure(pgText, Int32.self) }
        self = value
    }
}

extension Int64: PGDecodable {
    public init(pgText: String) throws {
        guard let value = Int64(pgText) else { throw decodeFailure(pgText, Int64.self) }
        self = value
    }
}

extension Double: PGDecodable {
    public init(pgText: String) throws {
        switch pgText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(pgText) else { throw decodeFailure(pgText, Double.self) }
            self = value
        }
    }
}

extension Bool: PGDecodable {
    public init(pgText: String) throws {
        switch pgText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw decodeFailure(pgText, Bool.self)
        }
    }
}

extension Decimal: PGDecodable {
    /// `numeric` decodes exactly (no detour through Double).
    public init(pgText: String) throws {
        guard let value = Decimal(string: pgText, locale: Locale(identifier: "en_US_POSIX")) else {
            throw decodeFailure(pgText, Decimal.self)
        }
        self = value
    }
}

extension UUID: PGDecodable {
    public init(pgText: String) throws {
        guard let value = UUID(uuidString: pgText) else { throw decodeFailure(pgText, UUID.self) }
        self = value
    }
}

extension Date: PGDecodable {
    public init(pgText: String) throws {
        guard let value = PGTimestamp.parse(pgText) else { throw decodeFailure(pgText, Date.self) }
        self = value
    }
}

extension Data: PGDecodable {
    public init(pgText: String) throws {
        guard pgText.hasPrefix("\\x") else { throw decodeFailure(pgText, Data.self) }
        // A lookup table rather than a switch per character: artifact chunks are a MiB each.
        let table: [UInt8] = (0..<256).map { c in
            switch UInt8(c) {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(c) - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(c) - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(c) - UInt8(ascii: "A") + 10
            default: 0xff
            }
        }
        let hex = Array(pgText.utf8.dropFirst(2))
        guard hex.count % 2 == 0 else { throw decodeFailure(pgText, Data.self) }
        var bytes = [UInt8](repeating: 0, count: hex.count / 2)
        var bad = false
        for index in 0..<bytes.count {
            let high = table[Int(hex[2 * index])], low = table[Int(hex[2 * index + 1])]
            bad = bad || high == 0xff || low == 0xff
            bytes[index] = high << 4 | (low & 0x0f)
        }
        guard !bad else { throw decodeFailure(pgText, Data.self) }
        self = Data(bytes)
    }
}

extension Array: PGDecodable where Element: PGDecodable {
    /// One-dimensional arrays; a NULL element is a decoding error (use `[T?]` via
    /// `PGArrayLiteral.parse` when elements may be NULL).
    public init(pgText: String) throws {
        guard let items = PGArrayLiteral.parse(pgText) else { throw decodeFailure(pgText, Self.self) }
        self = try items.map { item in
            guard let item else { throw PGError(kind: .decoding, message: "array element is NULL") }
            return try Element(pgText: item)
        }
    }
}

/// Parser for PostgreSQL's one-dimensional array output: `{a,"b c",NULL}`.
public enum PGArrayLiteral {
    public static func parse(_ text: String) -> [String?]? {
        var chars = Array(text.unicodeScalars)
        guard chars.first == "{", chars.last == "}" else { return nil }
        chars.removeFirst()
        chars.removeLast()
        if chars.isEmpty { return [] }
        var items: [String?] = []
        var index = 0
        while index <= chars.count {
            if index < chars.count, chars[index] == "\"" {
                var value = String.UnicodeScalarView()
                index += 1
                while index < chars.count, chars[index] != "\"" {
                    if chars[index] == "\\", index + 1 < chars.count { index += 1 }
                    value.append(chars[index])
                    index += 1
                }
                guard index < chars.count else { return nil }
                index += 1  // closing quote
                items.append(String(value))
            } else {
                var value = String.UnicodeScalarView()
                while index < chars.count, chars[index] != "," {
                    if chars[index] == "{" { return nil }  // multi-dimensional: unsupported
                    value.append(chars[index])
                    index += 1
                }
                let text = String(value)
                items.append(text == "NULL" ? nil : text)
            }
            if index < chars.count {
                guard chars[index] == "," else { return nil }
            }
            index += 1
        }
        return items
    }
}
