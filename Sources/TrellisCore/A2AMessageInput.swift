/// A run's input from an A2A message's parts (the workflow-as-agent's SendMessage): data
/// parts holding JSON objects are merged in order, text parts are joined into `text`
/// (unless a data part set it), file parts by URL are listed in `files`. File parts with
/// bytes are refused: upload them as an artifact and send `{"$artifact": id}` in a data part.
public enum A2AMessageInput {
    public struct Refusal: Error, Sendable, Equatable {
        /// A JSON-RPC error code: -32602 invalid params, -32005 content type not supported.
        public var code: Int
        public var message: String
    }

    public static func input(from message: JSONValue) throws(Refusal) -> JSONValue {
        guard case .object = message else { throw Refusal(code: -32602, message: "params.message must be an A2A Message object") }
        var parts: [JSONValue] = []
        if let given = message["parts"] {
            guard let list = given.arrayValue else { throw Refusal(code: -32602, message: "message.parts must be an array of parts") }
            parts = list
        }
        var input: [String: JSONValue] = [:]
        var texts: [String] = []
        var files: [JSONValue] = []
        for (index, part) in parts.enumerated() {
            if let text = part["text"] {
                guard let text = text.stringValue else { throw Refusal(code: -32602, message: "message.parts[\(index)].text must be a string") }
                texts.append(text)
            } else if let data = part["data"] {
                guard case .object(let fields) = data else {
                    throw Refusal(code: -32602, message: "message.parts[\(index)].data must be a JSON object: its fields become the run's input")
                }
                input.merge(fields) { _, new in new }
            } else if let url = part["url"]?.stringValue {
                var file: [String: JSONValue] = ["url": .string(url)]
                if let name = part["filename"]?.stringValue { file["filename"] = .string(name) }
                if let type = part["mediaType"]?.stringValue { file["media_type"] = .string(type) }
                files.append(.object(file))
            } else if part["raw"] != nil {
                throw Refusal(code: -32005, message: "message.parts[\(index)]: file bytes are not taken here; upload them (POST /v1/artifacts) and send {\"$artifact\": id} in a data part")
            } else {
                throw Refusal(code: -32602, message: "message.parts[\(index)] has no text, data, url or raw")
            }
        }
        if !texts.isEmpty && input["text"] == nil { input["text"] = .string(texts.joined(separator: "\n")) }
        if !files.isEmpty && input["files"] == nil { input["files"] = .array(files) }
        return .object(input)
    }

    /// The text of a follow-up message's parts (an answer), and whether a data part says
    /// `{"decision": "reject"}`.
    public static func reply(from message: JSONValue) -> (text: String, reject: Bool) {
        let parts = message["parts"]?.arrayValue ?? []
        let text = parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
        let reject = parts.contains { $0["data"]?["decision"]?.stringValue == "reject" }
        let comment = parts.compactMap { $0["data"]?["comment"]?.stringValue }.first
        return (text.isEmpty ? comment ?? "" : text, reject)
    }
}
