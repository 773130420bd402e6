import TrellisCore
/// The workflows a chaos run drives: every engine path — fan-out and join, retries with
/// backoff, a condition, parallel items, a human gate decided mid-run, a NaN from SQL
/// (stored as a string; the run must succeed), a 1.5 MiB output over the fleet's 1 MiB
/// inline cap (stored whole as an artifact; the run must succeed) and a 2.5 MiB one over
/// its 2 MiB cap for stored outputs (the one run designed to fail, with output_too_large).
enum ChaosWorkflows {
    struct Shape: Sendable {
        var name: String
        var definition: String
        /// Relative share of the runs.
        var weight: Int
        var input: @Sendable (Int) -> String
    }

    static let all: [Shape] = [
        Shape(name: "chaos-fanout", definition: """
            {"name": "chaos-fanout", "nodes": [
              {"key": "root", "kind": "tool_call", "handler": "echo", "input": {"i": "$input.i"}},
              {"key": "a", "kind": "tool_call", "handler": "sleep", "config": {"ms": 80}},
              {"key": "b", "kind": "tool_call", "handler": "sleep", "config": {"ms": 120}},
              {"key": "c", "kind": "tool_call", "handler": "echo"},
              {"key": "d", "kind": "tool_call", "handler": "sleep", "config": {"ms": 40, "steps": 2}},
              {"key": "join", "kind": "join", "mode": "all"}],
             "edges": [{"from": "root", "to": "a"}, {"from": "root", "to": "b"}, {"from": "root", "to": "c"}, {"from": "root", "to": "d"},
                       {"from": "a", "to": "join"}, {"from": "b", "to": "join"}, {"from": "c", "to": "join"}, {"from": "d", "to": "join"}]}
            """, weight: 30, input: { #"{"i": \#($0)}"# }),
        Shape(name: "chaos-retry", definition: """
            {"name": "chaos-retry", "nodes": [
              {"key": "flaky", "kind": "tool_call", "handler": "fail", "config": {"times": 2},
               "retry": {"max_attempts": 4, "initial_delay": "50ms", "max_delay": "200ms"}},
              {"key": "after", "kind": "tool_call", "handler": "echo"}],
             "edges": [{"from": "flaky", "to": "after"}]}
            """, weight: 15, input: { _ in "{}" }),
        Shape(name: "chaos-condition", definition: """
            {"name": "chaos-condition", "nodes": [
              {"key": "start", "kind": "tool_call", "handler": "echo", "input": {"go": "$input.go"}},
              {"key": "check", "kind": "condition", "predicate": "$.start.go == true"},
              {"key": "yes", "kind": "tool_call", "handler": "sleep", "config": {"ms": 30}},
              {"key": "no", "kind": "tool_call", "handler": "echo"},
              {"key": "end", "kind": "join", "mode": "all"}],
             "edges": [{"from": "start", "to": "check"}, {"from": "check", "to": "yes", "label": "true"},
                       {"from": "check", "to": "no", "label": "false"}, {"from": "yes", "to": "end"}, {"from": "no", "to": "end"}]}
            """, weight: 15, input: { #"{"go": \#($0 % 2 == 0)}"# }),
        Shape(name: "chaos-parallel", definition: """
            {"name": "chaos-parallel", "nodes": [
              {"key": "list", "kind": "tool_call", "handler": "echo", "input": {"items": "$input.items"}},
              {"key": "each", "kind": "parallel", "handler": "sleep", "items": "$list.items", "concurrency": 2, "config": {"ms": 30}},
              {"key": "sum", "kind": "tool_call", "handler": "echo", "input": {"results": "$each"}}],
             "edges": [{"from": "list", "to": "each"}, {"from": "each", "to": "sum"}]}
            """, weight: 15, input: { i in #"{"items": [\#((0..<5).map { String(i * 10 + $0) }.joined(separator: ", "))]}"# }),
        Shape(name: "chaos-gate", definition: """
            {"name": "chaos-gate", "nodes": [
              {"key": "draft", "kind": "tool_call", "handler": "echo", "input": {"i": "$input.i"}},
              {"key": "review", "kind": "human_gate", "prompt": "ship it?"},
              {"key": "ship", "kind": "tool_call", "handler": "sleep", "config": {"ms": 20}}],
             "edges": [{"from": "draft", "to": "review"}, {"from": "review", "to": "ship"}]}
            """, weight: 10, input: { #"{"i": \#($0)}"# }),
        Shape(name: "chaos-nan", definition: """
            {"name": "chaos-nan", "nodes": [
              {"key": "query", "kind": "tool_call", "handler": "sql", "config": {"query": "SELECT 'NaN'::float8 AS x, $1::int AS i"},
               "input": {"params": ["$input.i"]}, "retry": {"max_attempts": 3, "initial_delay": "100ms"}}]}
            """, weight: 10, input: { #"{"i": \#($0)}"# }),
        Shape(name: "chaos-large", definition: """
            {"name": "chaos-large", "nodes": [
              {"key": "large", "kind": "tool_call", "handler": "sql", "config": {"query": "SELECT repeat('y', 1572864) || $1::int AS blob"},
               "input": {"params": ["$input.i"]}, "retry": {"max_attempts": 3, "initial_delay": "100ms"}}]}
            """, weight: 5, input: { #"{"i": \#($0)}"# }),
        Shape(name: "chaos-poison", definition: """
            {"name": "chaos-poison", "nodes": [
              {"key": "huge", "kind": "tool_call", "handler": "sql", "config": {"query": "SELECT repeat('x', 2621440) AS blob"}}]}
            """, weight: 3, input: { _ in "{}" }),
    ]

    /// The shape of run `index`, drawn by weight.
    static func pick(_ random: inout SeededGenerator) -> Shape {
        var roll = Int(random.next() % UInt64(all.reduce(0) { $0 + $1.weight }))
        for shape in all {
            roll -= shape.weight
            if roll < 0 { return shape }
        }
        return all[0]
    }
}
