import Foundation
import Testing
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

let etlTemplate = """
    {"name": "etl", "description": "fetch and store",
     "parameters": [
       {"name": "source", "type": "string", "description": "URL to fetch"},
       {"name": "attempts", "type": "integer", "default": 2},
       {"name": "strict", "type": "boolean", "required": false}
     ],
     "definition": {
       "description": "ETL from {{ source }}",
       "nodes": [
         {"key": "fetch", "kind": "tool_call", "handler": "http", "config": {"url": "{{source}}", "strict": "{{strict}}"},
          "retry": {"max_attempts": "{{attempts}}"}},
         {"key": "store", "kind": "tool_call", "handler": "sql", "input": {"rows": "$fetch.rows"}}
       ],
       "edges": [{"from": "fetch", "to": "store"}]
     }}
    """

@Suite("Templates")
struct TemplateTests {
    @Test func importsOnceAndInstantiatesWithTypedParameters() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let templates = TemplateStore(connection: conn)
                let imported = try await templates.importTemplate(etlTemplate, as: "admin")
                #expect(imported.version == 1)
                #expect(imported.created)
                #expect(try await templates.importTemplate(etlTemplate, as: "admin").created == false)

                let published = try await templates.instantiate(
                    "etl", parameters: #"{"source": "https://example.com/a"}"#, workflow: "etl-a", as: "admin")
                #expect(published.workflow == "etl-a")
                #expect(published.version == 1)
                let version = try await WorkflowStore(connection: conn).version("etl-a")
                #expect(version.template == "etl")
                #expect(version.templateVersion == 1)
                #expect(version.description == "ETL from https://example.com/a")
                #expect(version.nodes.first { $0.key == "fetch" }?.maxAttempts == 2)  // the default
                let definition = try #require(try version.definition.object() as? [String: Any])
                let fetch = try #require((definition["nodes"] as? [[String: Any]])?.first)
                let config = try #require(fetch["config"] as? [String: Any])
                #expect(config["url"] as? String == "https://example.com/a")
                #expect(config["strict"] is NSNull)

                let again = try await templates.instantiate(
                    "etl", parameters: #"{"source": "https://example.com/a", "attempts": 5}"#, workflow: "etl-a", as: "admin")
                #expect(again.version == 2)
                #expect(try await templates.list().map(\.instantiations) == [2])
            }
        }
    }

    @Test func refusesBadParametersByName() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let templates = TemplateStore(connection: conn)
                _ = try await templates.importTemplate(etlTemplate, as: "admin")
                let cases: [(String, String, String)] = [
                    (#"{"source": "x", "colour": "red"}"#, "TR121", #"template "etl" has no parameter "colour""#),
                    (#"{"attempts": 3}"#, "TR122", #"template "etl" needs parameter(s) source"#),
                    (#"{"source": "x", "attempts": "three"}"#, "TR123", #"parameter "attempts" must be of type integer, got "three""#),
                    (#"{"source": "x", "attempts": 2.5}"#, "TR123", "must be of type integer, got 2.5"),
                    (#"[1]"#, "22023", "template parameters must be a JSON object"),
                    // Parameters fine, resulting definition invalid: publish's own code.
                    (#"{"source": "x", "attempts": 0}"#, "TR110", "retry.max_attempts must be an integer from 1 to 1000"),
                ]
                for (parameters, code, message) in cases {
                    let error = await #expect(throws: PGError.self) {
                        try await templates.instantiate("etl", parameters: parameters, workflow: "etl-b", as: "admin")
                    }
                    #expect(error?.sqlState == code, "\(parameters)")
                    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
                }
                let unknown = await #expect(throws: PGError.self) {
                    try await templates.instantiate("nope", parameters: "{}", workflow: "x", as: "admin")
                }
                #expect(unknown?.sqlState == "TR404")
                #expect(try await definitionRowCounts(conn) == [0, 0, 0, 0])
            }
        }
    }

    @Test func refusesMalformedTemplates() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let templates = TemplateStore(connection: conn)
                let undeclared = etlTemplate.replacingOccurrences(of: "ETL from {{ source }}", with: "ETL from {{ target }}")
                let cases: [(String, String)] = [
                    (undeclared, "placeholder {{target}} is not a declared parameter"),
                    (etlTemplate.replacingOccurrences(of: #""type": "boolean""#, with: #""type": "date""#), #"parameter "strict" has type "date""#),
                    (etlTemplate.replacingOccurrences(of: #""default": 2"#, with: #""default": "two""#), #"default "two" of parameter "attempts" is not of type integer"#),
                    (#"{"name": "t", "definition": []}"#, #"template "t": definition must be an object"#),
                ]
                for (template, message) in cases {
                    let error = await #expect(throws: PGError.self) { try await templates.importTemplate(template, as: "admin") }
                    #expect(error?.sqlState == "TR120")
                    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
                }
                try await PrincipalStore(connection: conn).create("bob", as: "admin")
                let notAdmin = await #expect(throws: PGError.self) { try await templates.importTemplate(etlTemplate, as: "bob") }
                #expect(notAdmin?.sqlState == "42501")
                #expect(notAdmin?.message == #"principal "bob" may not import templates (administrators only)"#)
                #expect(try await templates.list().isEmpty)
            }
        }
    }

    @Test func templateVersionsAreImmutable() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let templates = TemplateStore(connection: conn)
                _ = try await templates.importTemplate(etlTemplate, as: "admin")
                let error = await #expect(throws: PGError.self) {
                    try await conn.query("UPDATE trellis.workflow_templates SET description = 'changed'")
                }
                #expect(error?.sqlState == "TR001")
                let second = try await templates.importTemplate(
                    etlTemplate.replacingOccurrences(of: "fetch and store", with: "fetch, then store"), as: "admin")
                #expect(second.version == 2)
                #expect(try await templates.show("etl").version == 2)
                #expect(try await templates.show("etl", version: 1).description == "fetch and store")
            }
        }
    }
}
