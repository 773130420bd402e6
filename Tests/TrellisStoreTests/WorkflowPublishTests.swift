import Foundation
import Testing
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// Rows in the definition tables, to prove a refused publish wrote nothing.
func definitionRowCounts(_ conn: PGConnection) async throws -> [Int] {
    let row = try await conn.query("""
        SELECT (SELECT count(*) FROM trellis.workflows) AS w, (SELECT count(*) FROM trellis.workflow_versions) AS v,
               (SELECT count(*) FROM trellis.workflow_nodes) AS n, (SELECT count(*) FROM trellis.workflow_edges) AS e
        """).single()
    return [try row.decode("w"), try row.decode("v"), try row.decode("n"), try row.decode("e")]
}

let pipeline = """
    {"name": "pipeline", "description": "three steps",
     "defaults": {"retry": {"max_attempts": 3, "initial_delay": "2s"}, "timeout": "30s"},
     "nodes": [
       {"key": "fetch", "kind": "tool_call", "handler": "http", "input": {"url": "$input.url"}},
       {"key": "check", "kind": "condition", "predicate": "$.fetch.status == 200"},
       {"key": "store", "kind": "tool_call", "handler": "sql", "input": {"rows": "$fetch.body.rows", "who": "$context.user"},
        "retry": {"max_attempts": 1}, "timeout": 5000},
       {"key": "alert", "kind": "agent_call", "handler": "echo", "on_error": "continue"},
       {"key": "done", "kind": "join", "mode": "any"}
     ],
     "edges": [
       {"from": "fetch", "to": "check"},
       {"from": "check", "to": "store", "label": "true"},
       {"from": "check", "to": "alert", "label": "false"},
       {"from": "store", "to": "done"},
       {"from": "alert", "to": "done"}
     ]}
    """

@Suite("Publishing workflow definitions")
struct WorkflowPublishTests {
    @Test func publishesNormalisedNodesEdgesAndLevels() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let store = WorkflowStore(connection: conn)
                let published = try await store.publish(definition: pipeline, as: "admin")
                #expect(published.workflow == "pipeline")
                #expect(published.version == 1)
                #expect(published.created)

                let version = try await store.version("pipeline")
                #expect(version.nodes.map(\.key) == ["fetch", "check", "store", "alert", "done"])
                let byKey = Dictionary(uniqueKeysWithValues: version.nodes.map { ($0.key, $0) })
                #expect(byKey["fetch"]?.level == 0)
                #expect(byKey["check"]?.level == 1)
                #expect(byKey["store"]?.level == 2)
                #expect(byKey["done"]?.level == 3)
                #expect(byKey["done"]?.upstream == 2)
                #expect(byKey["done"]?.joinMode == "any")
                #expect(byKey["fetch"]?.maxAttempts == 3)       // from defaults
                #expect(byKey["store"]?.maxAttempts == 1)       // node overrides defaults
                #expect(byKey["fetch"]?.timeoutMilliseconds == 30_000)
                #expect(byKey["store"]?.timeoutMilliseconds == 5_000)
                #expect(byKey["alert"]?.onError == "continue")
                #expect(version.edges.count == 5)
                #expect(version.edges.contains(.init(from: "check", to: "store", label: "true", condition: nil)))
                let delay = try await conn.query(
                    "SELECT retry_initial_delay_ms AS d FROM trellis.workflow_nodes WHERE key = 'fetch'").single().decode("d", as: Int.self)
                #expect(delay == 2000)
            }
        }
    }

    @Test func identicalDefinitionReturnsTheExistingVersion() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let store = WorkflowStore(connection: conn)
                let first = try await store.publish(definition: pipeline, as: "admin")
                // Same document with other key order and whitespace: jsonb is canonical.
                let reordered = try PGJSON(text: pipeline).object()
                let again = try await store.publish(
                    definition: String(decoding: try JSONSerialization.data(withJSONObject: reordered, options: [.sortedKeys]), as: UTF8.self),
                    as: "admin")
                #expect(again.created == false)
                #expect(again.version == 1)
                #expect(again.checksum == first.checksum)
                #expect(try await definitionRowCounts(conn) == [1, 1, 5, 5])

                let changed = pipeline.replacingOccurrences(of: "three steps", with: "three steps, revised")
                let second = try await store.publish(definition: changed, as: "admin")
                #expect(second.version == 2)
                #expect(second.created)
                #expect(try await store.version("pipeline").description == "three steps, revised")
                #expect(try await store.version("pipeline", version: 1).version == 1)
                await #expect(throws: StoreError.self) { try await store.version("pipeline", version: 9) }
            }
        }
    }

    @Test func exportThenPublishRoundTrips() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let store = WorkflowStore(connection: conn)
                let published = try await store.publish(definition: pipeline, as: "admin")
                let exported = try await store.version("pipeline").definition
                let again = try await store.publish(definition: exported.text, as: "admin")
                #expect(again == .init(workflow: "pipeline", version: 1, checksum: published.checksum, created: false))
            }
        }
    }

    /// A definition broken in one way, the code it must be refused with, and text the
    /// message must contain (naming the offending node or edge).
    struct Broken: Sendable, CustomTestStringConvertible {
        var name: String
        var definition: String
        var code: String
        var mentions: String
        var testDescription: String { name }
    }

    /// The broken definition named `name` (a fixture case by its name, not its position).
    static func broken(_ name: String) -> Broken {
        guard let found = broken.first(where: { $0.name == name }) else { fatalError("no broken definition named \(name)") }
        return found
    }

    static let broken: [Broken] = [
        .init(name: "not an object", definition: "[1, 2]", code: "TR100", mentions: "must be a JSON object"),
        .init(name: "no nodes", definition: #"{"name": "x", "nodes": []}"#, code: "TR100", mentions: "nodes must be a non-empty array"),
        .init(name: "bad name", definition: #"{"name": "has space", "nodes": [{"key": "a", "kind": "join"}]}"#, code: "TR100", mentions: "name must be"),
        .init(name: "unknown kind", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "teleport"}]}"#,
              code: "TR101", mentions: #"node "a": unknown kind "teleport""#),
        .init(name: "missing handler", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call"}]}"#,
              code: "TR102", mentions: #"node "a": kind tool_call needs a handler"#),
        .init(name: "duplicate keys", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}, {"key": "a", "kind": "tool_call", "handler": "echo"}]}"#,
              code: "TR103", mentions: #"duplicate node key "a" (nodes #1 and #2)"#),
        .init(name: "edge to missing node", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "a", "to": "ghost"}]}"#,
              code: "TR104", mentions: #"edge a -> ghost: node "ghost" does not exist"#),
        .init(name: "self-loop", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "a", "to": "a"}]}"#,
              code: "TR105", mentions: #"self-loop on node "a""#),
        .init(name: "cycle", definition: """
              {"name": "x", "nodes": [{"key": "start", "kind": "tool_call", "handler": "echo"}, {"key": "a", "kind": "tool_call", "handler": "echo"},
               {"key": "b", "kind": "tool_call", "handler": "echo"}, {"key": "c", "kind": "tool_call", "handler": "echo"}],
               "edges": [{"from": "start", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"}]}
              """, code: "TR105", mentions: "cycle: a -> b -> c -> a"),
        .init(name: "unreachable behind a cycle", definition: """
              {"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}, {"key": "b", "kind": "tool_call", "handler": "echo"},
               {"key": "after", "kind": "tool_call", "handler": "echo"}, {"key": "root", "kind": "tool_call", "handler": "echo"}],
               "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}, {"from": "b", "to": "after"}]}
              """, code: "TR105", mentions: "cycle: a -> b -> a"),
        .init(name: "binding to a node that is not upstream", definition: """
              {"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"v": "$b.value"}},
               {"key": "b", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "a", "to": "b"}]}
              """, code: "TR107", mentions: #"node "a": binding "$b.value" refers to node "b", which is not upstream of it"#),
        .init(name: "binding to a missing node", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"v": ["$nope.x"]}}]}"#,
              code: "TR107", mentions: #"refers to node "nope", which does not exist"#),
        .init(name: "input binding syntax", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"v": "$input..x"}}]}"#,
              code: "TR107", mentions: #"invalid binding "$input..x""#),
        .init(name: "context binding syntax", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"v": "$context.a b"}}]}"#,
              code: "TR107", mentions: #"invalid binding "$context.a b""#),
        .init(name: "invalid JSONPath", definition: """
              {"name": "x", "nodes": [{"key": "c", "kind": "condition", "predicate": "$.a == == 1"}, {"key": "y", "kind": "tool_call", "handler": "echo"},
               {"key": "n", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "c", "to": "y", "label": "true"}, {"from": "c", "to": "n", "label": "false"}]}
              """, code: "TR108", mentions: #"node "c": predicate "$.a == == 1" is not a valid JSONPath"#),
        .init(name: "zero timeout", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "timeout": 0}]}"#,
              code: "TR109", mentions: #"node "a": timeout must be a positive duration"#),
        .init(name: "unparseable timeout", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "timeout": "soon"}]}"#,
              code: "TR109", mentions: #"got "soon""#),
        .init(name: "zero attempts", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "retry": {"max_attempts": 0}}]}"#,
              code: "TR110", mentions: #"node "a": retry.max_attempts must be an integer from 1 to 1000"#),
        .init(name: "max delay below initial", definition: #"{"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "retry": {"initial_delay": "10s", "max_delay": "1s"}}]}"#,
              code: "TR110", mentions: "retry.max_delay (1000 ms) is below retry.initial_delay (10000 ms)"),
        .init(name: "shrinking multiplier", definition: #"{"name": "x", "defaults": {"retry": {"multiplier": 0.5}}, "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}]}"#,
              code: "TR110", mentions: "defaults.retry.multiplier must be a number from 1 to 100"),
        .init(name: "condition with one branch", definition: """
              {"name": "x", "nodes": [{"key": "c", "kind": "condition", "predicate": "$.input.ok == true"}, {"key": "y", "kind": "tool_call", "handler": "echo"}],
               "edges": [{"from": "c", "to": "y", "label": "true"}]}
              """, code: "TR111", mentions: #"node "c": a condition with a predicate needs both branches"#),
        .init(name: "condition without predicates", definition: """
              {"name": "x", "nodes": [{"key": "c", "kind": "condition"}, {"key": "y", "kind": "tool_call", "handler": "echo"}], "edges": [{"from": "c", "to": "y"}]}
              """, code: "TR111", mentions: "needs a predicate, or a condition on every outgoing edge"),
        .init(name: "join with one input", definition: """
              {"name": "x", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}, {"key": "j", "kind": "join"}], "edges": [{"from": "a", "to": "j"}]}
              """, code: "TR112", mentions: #"node "j": a join needs at least two inputs, it has 1"#),
        .init(name: "parallel without items", definition: #"{"name": "x", "nodes": [{"key": "p", "kind": "parallel", "handler": "echo"}]}"#,
              code: "TR113", mentions: #"node "p": items must be a binding"#),
    ]

    @Test(arguments: broken)
    func refusesInvalidDefinitionWithCodeAndWritesNothing(_ broken: Broken) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let store = WorkflowStore(connection: conn)
                let problems = try await store.validate(definition: broken.definition)
                #expect(problems.first?.code == broken.code, "\(problems)")
                #expect(problems.contains { $0.message.contains(broken.mentions) }, "\(problems)")

                let error = await #expect(throws: PGError.self) {
                    try await store.publish(definition: broken.definition, as: "admin")
                }
                #expect(error?.sqlState == broken.code)
                let reported = (error?.message ?? "") + " " + (error?.detail ?? "")
                #expect(reported.contains(broken.mentions), "\(String(describing: error))")
                #expect(try await definitionRowCounts(conn) == [0, 0, 0, 0])
            }
        }
    }

    @Test func unreachableNodeIsReportedBesideTheCycle() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let problems = try await WorkflowStore(connection: conn).validate(definition: Self.broken("unreachable behind a cycle").definition)
                #expect(problems.map(\.code) == ["TR105", "TR106"])
                #expect(problems[1].message == #"node "after" is unreachable: it can only be reached through a cycle"#)
            }
        }
    }

    @Test func validateListsEveryProblemAtOnce() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "x", "colour": "blue", "nodes": [
                      {"key": "a", "kind": "tool_call"},
                      {"key": "b", "kind": "wat"},
                      {"key": "c", "kind": "tool_call", "handler": "echo", "timeout": -1, "input": {"v": "$a.x"}}],
                     "edges": [{"from": "a", "to": "zzz"}]}
                    """
                let problems = try await WorkflowStore(connection: conn).validate(definition: definition)
                #expect(Set(problems.map(\.code)) == ["TR100", "TR101", "TR102", "TR104", "TR107", "TR109"])
                #expect(problems.map(\.item).contains(#"node "c""#))
                #expect(try await definitionRowCounts(conn) == [0, 0, 0, 0])
            }
        }
    }

    @Test func malformedJSONIsASQLError() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let error = await #expect(throws: PGError.self) {
                    try await WorkflowStore(connection: conn).publish(definition: #"{"name": "x", "nodes": [}"#, as: "admin")
                }
                #expect(error?.sqlState == SQLState.invalidTextRepresentation)
            }
        }
    }
}
