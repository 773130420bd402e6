import Foundation

/// Output helpers: results go to stdout, notes and errors to stderr (one line each).
enum Console {
    /// A line on stdout, unbuffered: for output a pipe reader must see at once (follow modes).
    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("trellis: \(message)\n".utf8))
    }

    static func duration(_ milliseconds: Double?) -> String {
        guard let milliseconds else { return "" }
        if milliseconds < 1000 { return String(format: "%.1f ms", milliseconds) }
        let whole = Int(milliseconds)
        if Double(whole) == milliseconds {
            if whole % 3_600_000 == 0 { return "\(whole / 3_600_000)h" }
            if whole % 60_000 == 0 { return "\(whole / 60_000)m" }
            if whole % 1000 == 0 { return "\(whole / 1000)s" }
        }
        return String(format: "%.2f s", milliseconds / 1000)
    }

    static func timestamp(_ date: Date?) -> String {
        guard let date else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }
}

extension Console {
    /// Parses an id given on the command line, or fails naming what was expected.
    static func uuid(_ text: String, _ what: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw CLIError("\"\(text)\" is not \(what) (a UUID)") }
        return id
    }
}

/// A failure the CLI reports as one line and a non-zero exit code.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
