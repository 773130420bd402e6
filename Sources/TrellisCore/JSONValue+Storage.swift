import Foundation

/// Why a value cannot be stored as a node's output, decided before it is sent, so one
/// node's bad result fails that node only — never its batch, never the scheduler.
/// PostgreSQL's `jsonb` has no NaN or Infinity and refuses U+0000; outputs have a size
/// cap (the database checks it too, as the authority).
public enum StorageProblem: Sendable, Equatable, CustomStringConvertible {
    /// A value jsonb cannot hold; `path` names it (`$.rows[0].x`).
    case invalid(path: String, reason: String)
    /// The encoded size passed `limit` (the estimate stops counting at the limit).
    case tooLarge(atLeast: Int, limit: Int)

    /// The error code the node fails with: `invalid_output` or `output_too_large`.
    public var code: String {
        switch self {
        case .invalid: "invalid_output"
        case .tooLarge: "output_too_large"
        }
    }

    public var description: String {
        switch self {
        case .invalid(let path, let reason): "output value at \(path) cannot be stored: \(reason)"
        case .tooLarge(let size, let limit): "output is over \(size) bytes, more than the cap of \(limit) bytes"
        }
    }
}

extension JSONValue {
    /// The first reason this value cannot be stored as jsonb within `maxBytes` of JSON
    /// text, or nil. Walks the value once and stops at the first problem.
    public func storageProblem(maxBytes: Int) -> StorageProblem? {
        var size = 0
        var problem: StorageProblem?
        func visit(_ value: JSONValue, _ path: String) {
            guard problem == nil else { return }
            switch value {
            case .null, .bool: size += 5
            case .number(let number):
                guard number.isFinite else {
                    problem = .invalid(path: path, reason: "\(number) is not a JSON number")
                    return
                }
                size += 24
            case .string(let text):
                if containsNUL(text) {
                    problem = .invalid(path: path, reason: "the string contains U+0000, which jsonb cannot store")
                    return
                }
                size += text.utf8.count + 2
            case .array(let items):
                size += 2
                for (index, item) in items.enumerated() {
                    visit(item, "\(path)[\(index)]")
                    size += 1
                    if problem != nil || size > maxBytes { return }
                }
            case .object(let members):
                size += 2
                for (key, member) in members {
                    if containsNUL(key) {
                        problem = .invalid(path: path, reason: "a key contains U+0000, which jsonb cannot store")
                        return
                    }
                    size += key.utf8.count + 4
                    visit(member, "\(path).\(key)")
                    if problem != nil || size > maxBytes { return }
                }
            }
            if problem == nil && size > maxBytes { problem = .tooLarge(atLeast: size, limit: maxBytes) }
        }
        visit(self, "$")
        if problem == nil && size > maxBytes { return .tooLarge(atLeast: size, limit: maxBytes) }
        return problem
    }

    /// memchr over the string's UTF-8 when it is contiguous (outputs can be megabytes).
    private func containsNUL(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
    }

    /// A whole number within `range`, or nil for anything else (a fraction, NaN, 1e300,
    /// a string): config values are checked before use, never trapped on.
    public func integer(in range: ClosedRange<Int>) -> Int? {
        guard case .number(let number) = self, number.isFinite, number == number.rounded(),
              number >= Double(range.lowerBound), number <= Double(range.upperBound) else { return nil }
        return Int(number)
    }
}
