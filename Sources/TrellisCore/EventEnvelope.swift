import Foundation

/// The PROTOCOL.md envelope of a stored event — `{"v": 1, "run_id", "seq", "type", "ts",
/// "data"[, "replayed": true]}` — written in one place for the relay's streams and the
/// CLI's `--json` output, so both speak the same bytes (golden-file tested).
public enum EventEnvelope {
    /// The protocol version every envelope carries.
    public static let version = 1

    /// The envelope as one line of JSON. `data` is the stored object's JSON text, passed
    /// through as it is; `ts` is RFC 3339 UTC with milliseconds.
    /// `feed` adds the run feed's fields: `workflow` and the resume `cursor` (PROTOCOL.md
    /// "Feeds beyond one run").
    public static func text(runID: UUID, seq: Int64, type: String, timestamp: Date, data: String, replayed: Bool = false,
                            feed: (workflow: String, cursor: String)? = nil) -> String {
        #"{"v": \#(version), "run_id": "\#(runID.uuidString.lowercased())", "seq": \#(seq), "type": \#(JSONText.quote(type)), "#
            + #""ts": "\#(rfc3339(timestamp))", "data": \#(data)\#(replayed ? #", "replayed": true"# : "")"#
            + (feed.map { #", "workflow": \#(JSONText.quote($0.workflow)), "cursor": \#(JSONText.quote($0.cursor))"# } ?? "") + "}"
    }

    /// RFC 3339 UTC with milliseconds, as every time on the wire.
    public static func rfc3339(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
