import Foundation
import Testing
import TrellisPQ
import TrellisTestSupport

/// The schema `trellis` as a migration leaves an empty database — tables and columns,
/// constraints, indexes, views, functions with their arguments, triggers and grants — one
/// sorted line each, compared with the committed `Golden/schema.txt`. Any change to the
/// schema shows up in review as a change to that file. After an intended change:
/// `TRELLIS_UPDATE_SNAPSHOTS=1 swift test --filter SchemaSnapshotTests` rewrites it.
@Suite("Schema snapshot")
struct SchemaSnapshotTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Golden/schema.txt")

    static let query = """
        SELECT line FROM (
            SELECT format('column %s.%s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                          CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                          coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
                          || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END) AS line
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE n.nspname = 'trellis' AND c.relkind IN ('r', 'p')
          UNION ALL
            SELECT format('storage %s.%s %s', c.relname, a.attname, a.attstorage)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_type t ON t.oid = a.atttypid
            WHERE n.nspname = 'trellis' AND c.relkind = 'r' AND a.attstorage <> t.typstorage
          UNION ALL
            SELECT format('constraint %s %s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = 'trellis' AND c.conrelid <> 0
          UNION ALL
            SELECT format('domain %s %s%s', t.typname, format_type(t.typbasetype, t.typtypmod),
                          coalesce(' constraint ' || c.conname || ' ' || pg_get_constraintdef(c.oid), ''))
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_constraint c ON c.contypid = t.oid
            WHERE n.nspname = 'trellis' AND t.typtype = 'd'
          UNION ALL
            SELECT format('index %s', i.indexdef) FROM pg_indexes i WHERE i.schemaname = 'trellis'
          UNION ALL
            SELECT format('view %s.%s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
            WHERE n.nspname = 'trellis' AND c.relkind IN ('v', 'm')
          UNION ALL
            SELECT format('function %s(%s) returns %s%s%s', p.proname, pg_get_function_identity_arguments(p.oid),
                          pg_get_function_result(p.oid),
                          CASE p.provolatile WHEN 'i' THEN ' immutable' WHEN 's' THEN ' stable' ELSE '' END,
                          CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'trellis'
          UNION ALL
            SELECT format('trigger %s %s', t.tgrelid::regclass, pg_get_triggerdef(t.oid))
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'trellis' AND NOT t.tgisinternal
          UNION ALL
            SELECT format('grant %s on %s to %s', g.privilege_type, g.table_name, g.grantee)
            FROM information_schema.role_table_grants g
            WHERE g.table_schema = 'trellis' AND g.grantee LIKE 'trellis\\_%'
          UNION ALL
            SELECT format('grant execute on %s(%s) to %s', p.proname, pg_get_function_identity_arguments(p.oid), r.rolname)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            CROSS JOIN LATERAL aclexplode(p.proacl) acl JOIN pg_roles r ON r.oid = acl.grantee
            WHERE n.nspname = 'trellis' AND r.rolname LIKE 'trellis\\_%'
        ) s ORDER BY line COLLATE "C"
        """

    @Test func theSchemaMatchesTheCommittedSnapshot() async throws {
        try await TestDatabase.withMigrated { db in
            let actual = try await db.withConnection { conn in
                try await conn.query(Self.query).rows.map { try $0.decode("line", as: String.self) }.joined(separator: "\n") + "\n"
            }
            if ProcessInfo.processInfo.environment["TRELLIS_UPDATE_SNAPSHOTS"] == "1" {
                try actual.write(to: Self.golden, atomically: true, encoding: .utf8)
            }
            let expected = (try? String(contentsOf: Self.golden, encoding: .utf8)) ?? ""
            guard actual != expected else { return }
            let want = Set(expected.split(separator: "\n")), have = Set(actual.split(separator: "\n"))
            let added = have.subtracting(want).sorted().prefix(40).map { "+ \($0)" }
            let removed = want.subtracting(have).sorted().prefix(40).map { "- \($0)" }
            Issue.record("""
                the schema differs from Tests/TrellisStoreTests/Golden/schema.txt (run with TRELLIS_UPDATE_SNAPSHOTS=1 to accept):
                \((removed + added).joined(separator: "\n"))
                """)
        }
    }
}
