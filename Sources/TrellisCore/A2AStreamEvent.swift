import Foundation

/// One run event as what an A2A 1.0 client streaming the run's task receives
/// (`SendStreamingMessage`, `SubscribeToTask`). Every event becomes at least one stream
/// result, in seq order, so the stream is the run's log — gap-free, each result carrying
/// the event in `metadata.trellis` ({seq, type, data}):
///
/// | run event | A2A result |
/// |---|---|
/// | `approval.requested`, `run.waiting` | status update `INPUT_REQUIRED` (the prompt); the stream ends after `run.waiting` |
/// | `run.finished` succeeded | artifact update `output` (the run's output as a data part), then status `COMPLETED` |
/// | `run.finished` failed / cancelled | status `FAILED` / `CANCELED` with the error's message |
/// | anything else | status update `WORKING`; `node.log` bodies, progress messages and node outcomes as its text |
public struct A2AStreamEvent: Sendable {
    public var results: [JSONValue]
    /// The task reached a final or interrupted state: the stream closes after these results.
    public var endsStream: Bool

    /// `output`: the run's output, for `run.finished` (its event data does not carry it).
    public init(runID: UUID, contextID: String, seq: Int64, type: String, timestamp: Date, data: JSONValue, output: JSONValue? = nil) {
        let taskID = runID.uuidString.lowercased()
        let trellis: JSONValue = .object(["trellis": .object(["seq": .number(Double(seq)), "type": .string(type), "data": data])])
        func status(_ state: String, _ text: String?) -> JSONValue {
            var status: [String: JSONValue] = ["state": .string(state), "timestamp": .string(EventEnvelope.rfc3339(timestamp))]
            if let text, !text.isEmpty {
                status["message"] = .object(["messageId": .string("\(taskID):\(seq)"), "role": .string("ROLE_AGENT"),
                                             "taskId": .string(taskID), "contextId": .string(contextID),
                                             "parts": .array([.object(["text": .string(text)])])])
            }
            return .object(["statusUpdate": .object(["taskId": .string(taskID), "contextId": .string(contextID),
                                                     "status": .object(status), "metadata": trellis])])
        }
        let node = data["node_key"]?.stringValue ?? ""
        switch type {
        case "approval.requested":
            results = [status("TASK_STATE_INPUT_REQUIRED", data["prompt"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
                              ?? "waiting for a decision on \(node)")]
            endsStream = false
        case "run.waiting":
            results = [status("TASK_STATE_INPUT_REQUIRED", nil)]
            endsStream = true
        case "run.finished":
            switch data["status"]?.stringValue {
            case "succeeded"?:
                let artifact: JSONValue = .object(["artifactId": .string("output"), "name": .string("output"),
                                                   "parts": .array([.object(["data": output ?? .object([:])])])])
                results = [.object(["artifactUpdate": .object(["taskId": .string(taskID), "contextId": .string(contextID),
                                                               "artifact": artifact, "lastChunk": .bool(true), "metadata": trellis])]),
                           status("TASK_STATE_COMPLETED", nil)]
            case "cancelled"?:
                results = [status("TASK_STATE_CANCELED", data["error"]?["message"]?.stringValue ?? "the run was cancelled")]
            default:
                results = [status("TASK_STATE_FAILED", data["error"]?["message"]?.stringValue ?? "the run failed")]
            }
            endsStream = true
        case "node.log":
            results = [status("TASK_STATE_WORKING", data["body"]?.stringValue)]
            endsStream = false
        case "node.progress":
            results = [status("TASK_STATE_WORKING", data["message"]?.stringValue.map { "\(node): \($0)" })]
            endsStream = false
        case "node.finished":
            results = [status("TASK_STATE_WORKING", "\(node) \(data["status"]?.stringValue ?? "finished")")]
            endsStream = false
        default:
            results = [status("TASK_STATE_WORKING", nil)]
            endsStream = false
        }
    }
}
