import ArgumentParser
import Foundation
import Logging
import TrellisCore

/// `--log-format`: how a long-running command (`trellis scheduler`) writes its log to
/// stderr. `text` is one readable line (`trellis: message key=value …`); `json` is one
/// object per line (`ts`, `level`, `message`, then the metadata: `scheduler`, and for a
/// line about a node `node_run_id`, `run_id`, `node_key`, `attempt`) for log shippers.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

struct ConsoleLogHandler: LogHandler {
    let format: LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// A logger for `label` writing in `format`.
    static func logger(_ label: String, format: LogFormat) -> Logger {
        Logger(label: label) { _ in ConsoleLogHandler(format: format) }
    }

    func log(event: LogEvent) {
        let level = event.level, message = event.message
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let text: String
        switch format {
        case .text:
            // The instance name is in every message already; the node's coordinates are not.
            let fields = all.filter { $0.key != "scheduler" && $0.key != "scheduler_id" }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }
            text = "trellis: \(message)" + (fields.isEmpty ? "" : "  " + fields.joined(separator: " "))
        case .json:
            var fields = [("ts", Self.timestamp()), ("level", level.rawValue), ("message", "\(message)")]
            fields += all.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
            text = "{" + fields.map { "\(JSONText.quote($0.0)): \(JSONText.quote($0.1))" }.joined(separator: ", ") + "}"
        }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
