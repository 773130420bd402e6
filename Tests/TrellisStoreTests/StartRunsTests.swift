import Foundation
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// trellis.start_runs: the set-based start gives each run exactly what start_run gives one
/// run, and refuses bad input before writing anything.
@Suite("start_runs")
struct StartRunsTests {
    static let definition = """
        {"name": "batch", "nodes": [
          {"key": "fetch", "kind": "tool_call", "handler": "echo", "input": {"topic": "$input.topic", "who": "$context.who"}},
          {"key": "store", "kind": "tool_call", "handler": "echo"}],
         "edges": [{"from": "fetch", "to": "store"}]}
        """

    private func count(_ conn: PGConnection, _ sql: String) async throws -> Int {
        try await conn.query(sql).single().decode("n", as: Int.self)
    }

    @Test func eachRunIsWhatStartRunMakes() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition, as: "admin")
                let many = try await RunStore(connection: conn).start("batch", inputs: (0..<50).map { #"{"topic": "t\#($0)"}"# },
                                                                      as: "admin", priority: 2)
                #expect(many.count == 50 && many.allSatisfy { $0.created && $0.status == "queued" })
                let single = try await RunStore(connection: conn).start("batch", input: #"{"topic": "t0"}"#, as: "admin", priority: 2)
                // Compare every row a start writes, run by run, with the single start's.
                func shape(_ run: UUID) async throws -> String {
                    try await conn.query("""
                        SELECT jsonb_build_object(
                          'run', (SELECT jsonb_build_object('status', status, 'priority', priority, 'last_seq', last_seq,
                                                            'nodes_remaining', nodes_remaining, 'context', context)
                                  FROM trellis.workflow_runs WHERE id = $1),
                          'nodes', (SELECT jsonb_agg(jsonb_build_object('key', node_key, 'status', status, 'priority', priority,
                                                                        'input', input, 'deps', remaining_deps, 'ready', ready_at IS NOT NULL)
                                                     ORDER BY id) FROM trellis.node_runs WHERE run_id = $1),
                          'events', (SELECT jsonb_agg(jsonb_build_object('seq', seq, 'type', type, 'data', data) ORDER BY seq)
                                     FROM trellis.run_events WHERE run_id = $1))::text AS shape
                        """, [run]).single().decode("shape")
                }
                let expected = try await shape(single.runID)
                #expect(try await shape(many[0].runID) == expected)
                #expect(expected.contains(#""input": {"who": null, "topic": "t0"}"#), "\(expected)")
                // The rest differ only in their topic.
                for (index, run) in many.enumerated() {
                    #expect(try await shape(run.runID) == expected.replacingOccurrences(of: #""t0""#, with: #""t\#(index)""#))
                }
            }
        }
    }

    @Test func aVersionWithControlRootsIsMovedOnRunByRun() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "gated", "nodes": [
                      {"key": "gate", "kind": "condition", "predicate": "$.input.go == true"},
                      {"key": "yes", "kind": "tool_call", "handler": "echo"},
                      {"key": "no", "kind": "tool_call", "handler": "echo"}],
                     "edges": [{"from": "gate", "to": "yes", "label": "true"}, {"from": "gate", "to": "no", "label": "false"}]}
                    """, as: "admin")
                let runs = try await RunStore(connection: conn).start("gated", inputs: [#"{"go": true}"#, #"{"go": false}"#], as: "admin")
                let ready = try await conn.query("""
                    SELECT string_agg(n.node_key, ',' ORDER BY u.ord) AS keys FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord)
                    JOIN trellis.node_runs n ON n.run_id = u.id AND n.status = 'ready'
                    """, [runs.map(\.runID)]).single().decode("keys", as: String.self)
                #expect(ready == "yes,no")
            }
        }
    }

    @Test func badInputIsNamedByPositionAndNothingIsWritten() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition, as: "admin")
                let store = RunStore(connection: conn)
                let cases: [([String], String, String)] = [
                    ([#"{"a": 1}"#, "[1]", "{}"], "22023", "inputs[1]: run input must be a JSON object, got array"),
                    ([#"{"a": 1}"#, #"{"b": "\#(String(repeating: "x", count: 6_000_000))"}"#], "54000", "inputs[1]: run input is"),
                    ([], "22023", "inputs must be a non-empty array"),
                ]
                for (inputs, state, message) in cases {
                    let error = await #expect(throws: PGError.self) { _ = try await store.start("batch", inputs: inputs, as: "admin") }
                    #expect(error?.sqlState == state)
                    #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
                }
                // Shared options are checked once; an idempotency key names one run.
                let keyed = await #expect(throws: PGError.self) {
                    try await conn.query("SELECT * FROM trellis.start_runs('batch', ARRAY['{}'::jsonb], 'admin', '{\"idempotency_key\": \"k\"}')")
                }
                #expect(keyed?.sqlState == "22023")
                let unknown = await #expect(throws: PGError.self) { _ = try await store.start("nope", inputs: ["{}"], as: "admin") }
                #expect(unknown?.sqlState == "TR404")
                // The batch cap is a database setting.
                try await conn.execute(script: "SET trellis.max_start_batch = 3")
                let capped = await #expect(throws: PGError.self) { _ = try await store.start("batch", inputs: Array(repeating: "{}", count: 4), as: "admin") }
                #expect(capped?.sqlState == "54000")
                #expect(capped?.message.contains("trellis.max_start_batch") == true)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.workflow_runs") == 0)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.node_runs") == 0)
                #expect(try await count(conn, "SELECT count(*) AS n FROM trellis.run_events") == 0)
                // A principal without `run` on the workflow starts nothing either.
                _ = try await PrincipalStore(connection: conn).create("viewer", as: "admin")
                let denied = await #expect(throws: PGError.self) { _ = try await store.start("batch", inputs: ["{}"], as: "viewer") }
                #expect(denied?.sqlState == "42501")
            }
        }
    }
}
