import Foundation

/// JSON string literals for hand-built JSON text (relay bodies, log lines).
public enum JSONText {
    public static func quote(_ text: String) -> String {
        let data = try? JSONEncoder().encode(text)
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }
}
