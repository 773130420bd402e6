import Foundation
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// A published one-node workflow (handler echo) with runs started set-based, for tests of
/// what the hot path writes.
enum OneNodeRuns {
    /// Publishes `workflow`, registers a test scheduler and starts `count` runs.
    static func start(_ workflow: String, count: Int, _ conn: PGConnection) async throws -> Driver {
        let definition = #"{"name": "\#(workflow)", "nodes": [{"key": "only", "kind": "tool_call", "handler": "echo"}], "edges": []}"#
        _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
        let driver = try await Driver.make(conn)
        _ = try await conn.query("SELECT count(*) FROM trellis.start_runs($1, ARRAY(SELECT '{}'::jsonb FROM generate_series(1, $2::integer)))",
                                 [workflow, count])
        return driver
    }

    /// This transaction's updates of `table` so far, and how many of them were heap-only
    /// (the server's per-transaction counters: call it before the transaction ends).
    static func updates(of table: String, _ conn: PGConnection) async throws -> (all: Int, heapOnly: Int) {
        let row = try await conn.query("""
            SELECT pg_stat_get_xact_tuples_updated($1::regclass) AS updated,
                   pg_stat_get_xact_tuples_hot_updated($1::regclass) AS hot
            """, [table]).single()
        return (try row.decode("updated"), try row.decode("hot"))
    }
}
