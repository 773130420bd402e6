import Foundation
import Testing
import TrellisCore

/// The workflow-as-agent mappings, without I/O: message parts → run input, run events →
/// A2A stream results.
@Suite("A2A mapping")
struct A2AMappingTests {
    func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test func partsBecomeTheRunsInput() throws {
        let input = try A2AMessageInput.input(from: json("""
            {"messageId": "m", "role": "ROLE_USER", "parts": [
              {"text": "first"}, {"data": {"topic": "a", "n": 1}}, {"text": "second"}, {"data": {"n": 2}},
              {"url": "https://example.com/a.pdf", "filename": "a.pdf", "mediaType": "application/pdf"}]}
            """))
        #expect(input == (try json("""
            {"topic": "a", "n": 2, "text": "first\\nsecond", "files": [{"url": "https://example.com/a.pdf", "filename": "a.pdf", "media_type": "application/pdf"}]}
            """)))
        // A data part's own "text" wins over the text parts.
        #expect(try A2AMessageInput.input(from: json(#"{"parts": [{"text": "x"}, {"data": {"text": "y"}}]}"#)) == json(#"{"text": "y"}"#))
        #expect(try A2AMessageInput.input(from: json(#"{"parts": []}"#)) == .object([:]))
    }

    @Test func partsThatCannotBeInputAreRefusedByPosition() throws {
        let refusals: [(String, Int, String)] = [
            (#"{"parts": [{"text": "ok"}, {"data": [1, 2]}]}"#, -32602, "message.parts[1].data must be a JSON object"),
            (#"{"parts": [{"raw": "aGk="}]}"#, -32005, "message.parts[0]: file bytes are not taken here"),
            (#"{"parts": [{"nothing": 1}]}"#, -32602, "message.parts[0] has no text, data, url or raw"),
            (#"{"parts": {"text": "x"}}"#, -32602, "message.parts must be an array"),
            (#"{"parts": [{"text": 5}]}"#, -32602, "message.parts[0].text must be a string"),
            (#""just text""#, -32602, "params.message must be an A2A Message object"),
        ]
        for (message, code, says) in refusals {
            #expect(throws: A2AMessageInput.Refusal.self, "\(message)") { try A2AMessageInput.input(from: json(message)) }
            do {
                _ = try A2AMessageInput.input(from: json(message))
            } catch let refusal as A2AMessageInput.Refusal {
                #expect(refusal.code == code && refusal.message.hasPrefix(says), "\(message): \(refusal)")
            }
        }
    }

    @Test func aFollowUpsTextIsTheAnswerAndADecisionCanReject() throws {
        #expect(A2AMessageInput.reply(from: try json(#"{"parts": [{"text": "blue"}, {"text": "really"}]}"#)) == ("blue\nreally", false))
        #expect(A2AMessageInput.reply(from: try json(#"{"parts": [{"data": {"decision": "reject", "comment": "no"}}]}"#)) == ("no", true))
    }

    @Test func runEventsBecomeStatusAndArtifactUpdatesCarryingTheirSeq() throws {
        let run = UUID()
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        func mapped(_ seq: Int64, _ type: String, _ data: String, output: JSONValue? = nil) throws -> A2AStreamEvent {
            A2AStreamEvent(runID: run, contextID: "ctx", seq: seq, type: type, timestamp: at, data: try json(data), output: output)
        }
        let log = try mapped(4, "node.log", #"{"node_key": "plan", "kind": "agent_message", "body": "thinking aloud"}"#)
        let update = try #require(log.results.first?["statusUpdate"])
        #expect(log.results.count == 1 && !log.endsStream)
        #expect(update["taskId"] == .string(run.uuidString.lowercased()) && update["contextId"] == .string("ctx"))
        #expect(update["status"]?["state"] == .string("TASK_STATE_WORKING"))
        #expect(update["status"]?["message"]?["parts"]?[0]?["text"] == .string("thinking aloud"))
        #expect(update["metadata"]?["trellis"]?["seq"] == .number(4) && update["metadata"]?["trellis"]?["type"] == .string("node.log"))

        let asked = try mapped(5, "approval.requested", #"{"approval_id": "a", "node_key": "review", "prompt": "Ship it?"}"#)
        #expect(asked.results.first?["statusUpdate"]?["status"]?["state"] == .string("TASK_STATE_INPUT_REQUIRED") && !asked.endsStream)
        let waiting = try mapped(6, "run.waiting", #"{"node_key": "review", "reason": "approval"}"#)
        #expect(waiting.results.first?["statusUpdate"]?["status"]?["state"] == .string("TASK_STATE_INPUT_REQUIRED") && waiting.endsStream)

        let done = try mapped(9, "run.finished", #"{"status": "succeeded"}"#, output: .object(["answer": .number(42)]))
        #expect(done.endsStream && done.results.count == 2)
        #expect(done.results[0]["artifactUpdate"]?["artifact"]?["parts"]?[0]?["data"] == .object(["answer": .number(42)]))
        #expect(done.results[1]["statusUpdate"]?["status"]?["state"] == .string("TASK_STATE_COMPLETED"))
        let failed = try mapped(9, "run.finished", #"{"status": "failed", "error": {"code": "x", "message": "it broke"}}"#)
        #expect(failed.results.map { $0["statusUpdate"]?["status"]?["state"] } == [.string("TASK_STATE_FAILED")])
        #expect(failed.results[0]["statusUpdate"]?["status"]?["message"]?["parts"]?[0]?["text"] == .string("it broke"))
        let cancelled = try mapped(9, "run.finished", #"{"status": "cancelled"}"#)
        #expect(cancelled.results.map { $0["statusUpdate"]?["status"]?["state"] } == [.string("TASK_STATE_CANCELED")] && cancelled.endsStream)
    }
}
