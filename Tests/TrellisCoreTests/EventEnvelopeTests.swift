import Foundation
import Testing
import TrellisCore

/// The wire format of a stored event (PROTOCOL.md "Envelope"), pinned by golden files:
/// a change to the bytes clients parse shows up in review.
@Suite("Event envelope")
struct EventEnvelopeTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    func expectGolden(_ text: String, _ name: String) throws {
        let expected = try String(contentsOf: Self.golden.appendingPathComponent(name), encoding: .utf8)
        #expect(text + "\n" == expected, "the envelope changed: \(text)")
    }

    let run = UUID(uuidString: "0B5E3C2A-7F41-4D6B-9C1E-2A3B4C5D6E7F")!
    // 2026-11-30T12:34:56.789Z
    let time = Date(timeIntervalSince1970: 1_796_042_096.789)

    @Test func liveAndReplayedEnvelopesMatchTheGoldenFiles() throws {
        let data = #"{"node_key": "fetch", "attempt": 2, "status": "succeeded", "note": "quote \" and ünïcode"}"#
        try expectGolden(EventEnvelope.text(runID: run, seq: 42, type: "node.finished", timestamp: time, data: data), "envelope-live.json")
        try expectGolden(EventEnvelope.text(runID: run, seq: 42, type: "node.finished", timestamp: time, data: data, replayed: true),
                         "envelope-replayed.json")
    }

    @Test func everyEnvelopeIsJSONWithTheProtocolFields() throws {
        let text = EventEnvelope.text(runID: run, seq: 7, type: "run.started", timestamp: time, data: "{}", replayed: true)
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value["v"] == .number(1) && value["run_id"] == .string("0b5e3c2a-7f41-4d6b-9c1e-2a3b4c5d6e7f"))
        #expect(value["seq"] == .number(7) && value["type"] == .string("run.started") && value["data"] == .object([:]))
        #expect(value["ts"] == .string("2026-11-30T12:34:56.789Z") && value["replayed"] == .bool(true))
    }
}
