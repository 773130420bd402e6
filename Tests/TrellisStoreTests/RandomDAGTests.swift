import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

/// A random DAG: nodes n0…nk in a random order; edges only from lower to higher rank,
/// so it is acyclic by construction.
func randomDAG(seed: UInt64) -> (keys: [String], edges: [(String, String)]) {
    var rng = SeededGenerator(seed: seed)
    let count = Int.random(in: 2...24, using: &rng)
    let keys = (0..<count).map { "n\($0)" }.shuffled(using: &rng)
    let density = Double.random(in: 0.05...0.5, using: &rng)
    var edges: [(String, String)] = []
    for i in 0..<count {
        for j in (i + 1)..<count where Double.random(in: 0..<1, using: &rng) < density {
            edges.append((keys[i], keys[j]))
        }
    }
    return (keys, edges)
}

func definitionJSON(name: String, keys: [String], edges: [(String, String)]) -> String {
    let nodes = keys.map { #"{"key": "\#($0)", "kind": "tool_call", "handler": "echo"}"# }
    let edgeList = edges.map { #"{"from": "\#($0.0)", "to": "\#($0.1)"}"# }
    return #"{"name": "\#(name)", "nodes": [\#(nodes.joined(separator: ", "))], "edges": [\#(edgeList.joined(separator: ", "))]}"#
}

@Suite("Random DAGs (property-style)")
struct RandomDAGTests {
    @Test func publishAcceptsExactlyTheAcyclicGraphsAndLevelsRespectEdges() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let store = WorkflowStore(connection: conn)
                for seed in UInt64(1)...60 {
                    let (keys, edges) = randomDAG(seed: seed)
                    let published = try await store.publish(definition: definitionJSON(name: "dag\(seed)", keys: keys, edges: edges), as: "admin")
                    let version = try await store.version(published.workflow)
                    let level = Dictionary(uniqueKeysWithValues: version.nodes.map { ($0.key, $0.level) })
                    for (from, to) in edges {
                        #expect(level[to]! > level[from]!, "seed \(seed): \(from) -> \(to)")
                    }
                    // Levels are the longest path from a root: a node above 0 has a parent exactly one below.
                    for node in version.nodes where node.level > 0 {
                        #expect(edges.contains { $0.1 == node.key && level[$0.0]! == node.level - 1 }, "seed \(seed): \(node.key)")
                    }
                    #expect(version.nodes.filter { $0.level == 0 }.allSatisfy { $0.upstream == 0 })

                    // Inject a cycle: a path a -> … -> b plus the back edge b -> a.
                    guard keys.count >= 2 else { continue }
                    var rng = SeededGenerator(seed: seed &* 7919)
                    let i = Int.random(in: 0..<(keys.count - 1), using: &rng)
                    let j = Int.random(in: (i + 1)..<keys.count, using: &rng)
                    var cyclic = edges
                    if !cyclic.contains(where: { $0 == (keys[i], keys[j]) }) { cyclic.append((keys[i], keys[j])) }
                    cyclic.append((keys[j], keys[i]))
                    let problems = try await store.validate(definition: definitionJSON(name: "cyc\(seed)", keys: keys, edges: cyclic))
                    let cycle = try #require(problems.first { $0.code == "TR105" }, "seed \(seed): cycle not found in \(problems)")
                    // The named cycle is a real closed walk over the edges.
                    let path = cycle.message.dropFirst("cycle: ".count).components(separatedBy: " -> ")
                    #expect(path.first == path.last)
                    for (from, to) in zip(path, path.dropFirst()) {
                        #expect(cyclic.contains { $0 == (from, to) }, "seed \(seed): \(cycle.message)")
                    }
                }
                #expect(try await definitionRowCounts(conn)[0] == 60)
            }
        }
    }
}
