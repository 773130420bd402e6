import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Hostile or broken values a mutation puts in place of a field.
private let replacements: [String] = [
    "null", "true", "0", "-1", "2147483648", "1e400", "-1e400", "1e-400", "0.5", "99999999999999999999", "\"\"",
    "\"$nope.x\"", "\"$input\"", "\"$.a[?(@.b\"", "[]", "{}", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
    "\"\(String(repeating: "x", count: 5000))\"", "\"\\u0000\"", "\"é🙂\\n\\t\"", "\"'; DROP TABLE trellis.workflows; --\"",
    "{\"key\": \"a\"}", "[{\"from\": \"a\"}]", "\"30s\"", "\"-5s\"", "\"1000000000000000d\"",
]

/// A valid definition to start from: a random DAG with every node kind.
private func base(_ g: inout SeededGenerator, _ index: Int) -> String {
    let count = 2 + g.below(6)
    var nodes: [String] = []
    var edges: [String] = []
    for i in 0..<count {
        let kind = i == 0 ? "tool_call" : g.pick(["tool_call", "agent_call", "join", "condition", "parallel", "human_gate"])
        switch kind {
        case "join": nodes.append(#"{"key": "n\#(i)", "kind": "join", "mode": "all"}"#)
        case "condition": nodes.append(#"{"key": "n\#(i)", "kind": "condition", "predicate": "$.n0.ok == true"}"#)
        case "parallel": nodes.append(#"{"key": "n\#(i)", "kind": "parallel", "handler": "echo", "items": "$input.xs", "concurrency": 2}"#)
        case "human_gate": nodes.append(#"{"key": "n\#(i)", "kind": "human_gate", "approvals": {"required": 1, "expires_in": "1h"}}"#)
        default:
            nodes.append(#"{"key": "n\#(i)", "kind": "\#(kind)", "handler": "echo", "input": {"v": "$input.v"}, "timeout": "5s", "retry": {"max_attempts": 3, "initial_delay": "100ms"}}"#)
        }
        if i > 0 { edges.append(#"{"from": "n\#(g.below(i))", "to": "n\#(i)"}"#) }
    }
    return #"{"name": "fuzz-\#(index)", "description": "fuzz", "nodes": [\#(nodes.joined(separator: ", "))], "edges": [\#(edges.joined(separator: ", "))]}"#
}

/// Mutates a definition: replaces a random value (anywhere in the tree) with a hostile
/// one, drops a random field, or truncates the text (malformed JSON).
private func mutate(_ text: String, _ g: inout SeededGenerator) -> String {
    guard var tree = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return text }
    for _ in 0..<(1 + g.below(3)) {
        tree = mutateTree(tree, &g, depth: 0)
    }
    guard let data = try? JSONSerialization.data(withJSONObject: tree) else { return text }
    var out = String(decoding: data, as: UTF8.self)
    // Raw replacements (some, like 1e400, have no Swift value) go in as text.
    out = out.replacingOccurrences(of: "\"__R__\"", with: g.pick(replacements))
    if g.below(20) == 0 { out = String(out.prefix(g.below(out.count))) }
    return out
}

private func mutateTree(_ node: Any, _ g: inout SeededGenerator, depth: Int) -> Any {
    // Stop here with some chance, or at leaves.
    if depth > 0 && g.below(4) == 0 { return "__R__" }
    if var object = node as? [String: Any], !object.isEmpty {
        let key = g.pick(object.keys.sorted())
        if g.below(8) == 0 { object[key] = nil; return object }
        object[key] = mutateTree(object[key]!, &g, depth: depth + 1)
        return object
    }
    if var array = node as? [Any], !array.isEmpty {
        let index = g.below(array.count)
        array[index] = mutateTree(array[index], &g, depth: depth + 1)
        return array
    }
    return "__R__"
}

/// 10,000 generated and mutated definitions through validate (and every tenth through
/// publish): every one is accepted or refused with a bad-input code (TR1xx, 22xxx,
/// 54000) — never an internal error, a lost connection, or a partial write.
@Suite("Definition fuzzing")
struct DefinitionFuzzTests {
    @Test func tenThousandMutatedDefinitionsNeverCrashOrHalfWrite() async throws {
        let seed = UInt64.random(in: 1...UInt64(UInt32.max))
        var g = SeededGenerator(seed: seed)
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let workflows = WorkflowStore(connection: conn)
                var accepted = 0, refused = 0, published = 0
                var unexpected: [String] = []
                func versions() async throws -> Int {
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_versions").single().decode("n", as: Int.self)
                }
                for index in 0..<10_000 {
                    let original = base(&g, index)
                    let definition = g.below(10) == 0 ? original : mutate(original, &g)
                    let publish = index % 10 == 0
                    let before = publish ? try await versions() : 0
                    do {
                        if publish {
                            _ = try await workflows.publish(definition: definition, as: "admin")
                            published += 1
                        } else {
                            _ = try await workflows.validate(definition: definition)
                        }
                        accepted += 1
                    } catch let error as PGError where error.kind == .server {
                        let state = error.sqlState ?? ""
                        if state.hasPrefix("TR1") || state.hasPrefix("22") || state == "54000" {
                            refused += 1
                            if publish, try await versions() != before { unexpected.append("partial write: \(definition.prefix(300))") }
                        } else {
                            unexpected.append("\(state) \(error.message): \(definition.prefix(300))")
                        }
                    }
                    if unexpected.count >= 5 { break }
                }
                #expect(unexpected.isEmpty, "seed \(seed): \(unexpected)")
                #expect(accepted > 500 && refused > 500, "seed \(seed): \(accepted) accepted, \(refused) refused — the generator should hit both")
                #expect(try await conn.query("SELECT 1 AS ok").single().decode("ok", as: Int.self) == 1)  // the session survived
                print("definition fuzzing seed \(seed): \(accepted) accepted (\(published) published), \(refused) refused")
            }
        }
    }
}
