import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// The `research-agents` seed end to end: its planner and writer against a model server
/// that speaks the Chat Completions wire format, its specialists against two real a2a-sdk
/// agents (one streaming, one not), its join in between; tokens and cost in run history.
@Suite("research-agents seed")
struct ResearchAgentsSeedTests {
    /// The planner answers with the JSON the seed's system prompt asks for; the writer
    /// answers with what it was sent, so the test sees the join's values reached it.
    static func model() throws -> TestHTTPServer {
        try TestHTTPServer { request, writer in
            guard request.path == "/v1/chat/completions",
                  let body = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8)),
                  let model = body["model"]?.stringValue else { return false }
            let sent = (body["messages"]?.arrayValue ?? []).filter { $0["role"] == .string("user") }
                .compactMap { $0["content"]?.stringValue }
            let content = model == "planner-small"
                ? #"{"research": "find the facts", "critique": "list the risks"}"#
                : "summary of: " + sent.joined(separator: " | ")
            FakeModelAPI.startStream(writer)
            writer.chunk(FakeModelAPI.chunk(model, #"{"role":"assistant","content":""}"#))
            writer.chunk(FakeModelAPI.chunk(model, #"{"content":\#(FakeModelAPI.quoted(content))}"#, finish: "stop"))
            writer.chunk(FakeModelAPI.usage(model))
            writer.chunk("data: [DONE]\n\n")
            writer.endChunks()
            return true
        }
    }

    @Test func thePlannerFansOutToTwoAgentsAndTheWriterSummarisesWithCosts() async throws {
        let (research, researchURL) = try await A2AHandlerTests.startAgent(streaming: true)
        defer { research.stop(SIGKILL) }
        let (critique, critiqueURL) = try await A2AHandlerTests.startAgent(streaming: false)
        defer { critique.stop(SIGKILL) }
        let server = try Self.model()
        let seed = try #require(SQLCatalogue.embedded.seeds.first { $0.path == "seeds/workflows/research-agents.yaml" })
        let definition = try DefinitionDocument.jsonText(fileName: seed.path, contents: seed.contents
            .replacingOccurrences(of: "http://127.0.0.1:9101", with: researchURL)
            .replacingOccurrences(of: "http://127.0.0.1:9102", with: critiqueURL))
        // The prices of docs/examples/llm.yaml, with the model server's address.
        let example = try String(contentsOf: A2AHandlerTests.root.appending(path: "docs/examples/llm.yaml"), encoding: .utf8)
        let llm = try LLMConfiguration.parse(example.replacingOccurrences(of: "http://127.0.0.1:8000/v1", with: server.baseURL + "/v1"),
                                             fileName: "llm.yaml", environment: [:])
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                return try await RunStore(connection: conn).start("research-agents", input: #"{"question": "Is Trellis ready?"}"#, as: "admin").runID
            }
            let finished = try await runToTheEnd(db, run, registry: .standard(llm: llm), name: "seed-agents")
            let nodes = finished.nodes
            #expect(finished.status == "succeeded", "\(finished.errors)")
            try await db.withConnection { conn in
                #expect(try nodes["research"]?.output?.decode(JSONValue.self)["text"] == .string("FIND THE FACTS"))
                #expect(try nodes["critique"]?.output?.decode(JSONValue.self)["text"] == .string("LIST THE RISKS"))
                let summary = try nodes["summarise"]?.output?.decode(JSONValue.self)["content"]
                #expect(summary == .string("summary of: FIND THE FACTS | LIST THE RISKS"))
                // Two model calls of 1,234 + 567 tokens at $0.15 / $0.60 per million.
                let history = try await conn.query("""
                    SELECT tokens_in, tokens_out, total_cost::text AS cost FROM trellis.run_history WHERE run_id = $1::uuid
                    """, [run]).single()
                #expect(try history.decode("tokens_in", as: Int64.self) == 2_468 && history.decode("tokens_out", as: Int64.self) == 1_134)
                #expect(try history.decode("cost", as: String.self) == "0.001050")
            }
        }
    }
}
