import Foundation
import Testing
@testable import TrellisCore

@Suite("Definition documents")
struct DefinitionDocumentTests {
    @Test func convertsYAMLToEquivalentJSON() throws {
        let yaml = """
            name: pipeline
            description: "three: steps"
            nodes:
              - key: fetch
                kind: tool_call
                handler: http
                retry: {max_attempts: 3, initial_delay: 2s, jitter: true}
                input: {url: $input.url, nothing: null, ratio: 0.5}
            edges: []
            """
        let json = try DefinitionDocument.jsonText(fileName: "p.yaml", contents: yaml)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "pipeline")
        #expect(object["description"] as? String == "three: steps")
        let node = try #require((object["nodes"] as? [[String: Any]])?.first)
        let retry = try #require(node["retry"] as? [String: Any])
        #expect(retry["max_attempts"] as? Int == 3)
        #expect(retry["initial_delay"] as? String == "2s")
        #expect(retry["jitter"] as? Bool == true)
        let input = try #require(node["input"] as? [String: Any])
        #expect(input["url"] as? String == "$input.url")
        #expect(input["nothing"] is NSNull)
        #expect(input["ratio"] as? Double == 0.5)
        #expect((object["edges"] as? [Any])?.isEmpty == true)
    }

    @Test func passesJSONThroughUntouched() throws {
        let json = #"{"name": "x",  "nodes": [1.0]}"#
        #expect(try DefinitionDocument.jsonText(fileName: "x.json", contents: json) == json)
        #expect(DefinitionDocument.format(fileName: "stdin", contents: "  {") == .json)
        #expect(DefinitionDocument.format(fileName: "stdin", contents: "name: x") == .yaml)
    }

    @Test func reportsYAMLErrorsWithTheFileName() {
        let error = #expect(throws: DefinitionDocument.ParseError.self) {
            try DefinitionDocument.jsonText(fileName: "bad.yaml", contents: "nodes: [a, b\nedges: {")
        }
        #expect(error?.description.hasPrefix("bad.yaml is not valid YAML") == true)
        #expect(error?.description.contains("\n") == false)
    }
}
