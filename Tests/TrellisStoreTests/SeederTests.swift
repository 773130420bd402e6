import Foundation
import Testing
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

@Suite("Seeds")
struct SeederTests {
    @Test func loadsEverySeedIdempotently() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let seeder = Seeder(connection: conn)
                let first = try await seeder.load(as: "admin")
                #expect(first.filter { $0.kind == .template }.count >= 2)
                #expect(first.filter { $0.kind == .workflow }.count >= 5)
                #expect(first.allSatisfy { $0.created && $0.version == 1 })
                #expect(Set(first.map(\.name)).isSuperset(of: [
                    "linear-pipeline", "fan-out-fan-in", "condition-branch", "human-approval", "parallel-items", "flaky-enrich",
                    "http-etl", "approval-gate", "research-agents",
                ]))
                let second = try await seeder.load(as: "admin")
                #expect(second.allSatisfy { !$0.created && $0.version == 1 })

                // Every seeded template instantiates with its documented parameters.
                let templates = TemplateStore(connection: conn)
                _ = try await templates.instantiate("http-etl", parameters: #"{"source_url": "http://127.0.0.1:9/rows"}"#, workflow: "etl-demo", as: "admin")
                _ = try await templates.instantiate("approval-gate", parameters: #"{"prompt": "Deploy?", "approvals": 2}"#, workflow: "deploy-gate", as: "admin")
                let kinds = try await WorkflowStore(connection: conn).version("parallel-items").nodes.map(\.kind)
                #expect(kinds == ["tool_call", "parallel", "agent_call"])
            }
        }
    }

    @Test func aBrokenSeedNamesItsFile() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let files = [SQLFile(path: "seeds/workflows/broken.yaml", contents: "name: broken\nnodes:\n  - {key: a, kind: tool_call}\n")]
                let error = await #expect(throws: StoreError.self) { try await Seeder(connection: conn).load(files, as: "admin") }
                #expect(error?.description.hasPrefix("seeds/workflows/broken.yaml: node \"a\": kind tool_call needs a handler") == true)
            }
        }
    }
}
