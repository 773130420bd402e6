import Foundation
import NIOCore
import TrellisCore
import TrellisPQ
import TrellisStore

/// One stored event as the relay sends it: the PROTOCOL.md envelope, built once and
/// shared by every subscriber. A class: an event passes through every subscriber's queue
/// and batch, and copying a struct of four references retained each of them per copy
/// (reference counting was the largest self cost of fanning out to 1,000 subscribers).
public final class RelayEvent: Sendable {
    public let runID: UUID
    public let seq: Int64
    public let type: String
    public let timestamp: Date
    /// The `data` object as stored (JSON text).
    public let data: String

    /// The live envelope, built once when the event is read and shared by every
    /// subscriber it is pushed to (formatting per subscriber dominated fan-out).
    public let live: String
    /// `live` as bytes, shared (not copied) by every WebSocket and SSE write of it.
    public let liveBytes: ByteBuffer

    public init(runID: UUID, seq: Int64, type: String, timestamp: Date, data: String) {
        self.runID = runID
        self.seq = seq
        self.type = type
        self.timestamp = timestamp
        self.data = data
        live = EventEnvelope.text(runID: runID, seq: seq, type: type, timestamp: timestamp, data: data)
        liveBytes = ByteBuffer(string: live)
    }

    public var isFinal: Bool { type == "run.finished" }

    /// `{"v":1,"run_id","seq","type","ts","data"[,"replayed":true]}`
    public func envelope(replayed: Bool = false) -> String {
        replayed ? EventEnvelope.text(runID: runID, seq: seq, type: type, timestamp: timestamp, data: data, replayed: true) : live
    }

    /// Events of `run` after `cursor`, oldest first, at most `limit`.
    static func read(_ connection: PGConnection, run: UUID, after cursor: Int64, limit: Int = 500) async throws -> [RelayEvent] {
        try await RunStore(connection: connection).events(of: run, after: cursor, limit: limit).map {
            RelayEvent(runID: run, seq: $0.seq, type: $0.type, timestamp: $0.timestamp, data: $0.data.text)
        }
    }
}
