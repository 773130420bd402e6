import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// One vocabulary: the Swift status enums and error codes against what the schema and the
/// SQL functions actually allow and raise. A status added to a CHECK constraint, or a TR
/// code raised by a new function, fails here until Swift knows it too.
@Suite("Vocabulary")
struct VocabularyTests {
    /// The words a CHECK constraint allows: `status IN ('a', 'b', …)` or, as the hot
    /// tables store them (migration 0026), `status = ANY ('{a,b,…}'::text[])`.
    func allowed(_ conn: PGConnection, _ constraint: String) async throws -> Set<String> {
        let definition: String = try await conn.query(
            "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = $1", [constraint]).single().decode("def")
        let listed = definition.matches(of: /'\{([a-z_,]+)\}'/).flatMap { $0.output.1.split(separator: ",").map(String.init) }
        return Set(definition.matches(of: /'([a-z_]+)'/).map { String($0.output.1) } + listed)
    }

    @Test func statusEnumsMatchTheCheckConstraints() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                #expect(try await allowed(conn, "workflow_runs_status_check") == Set(RunStatus.allCases.map(\.rawValue)))
                #expect(try await allowed(conn, "node_runs_status_check") == Set(NodeStatus.allCases.map(\.rawValue)))
                #expect(try await allowed(conn, "approvals_status_check") == Set(ApprovalStatus.allCases.map(\.rawValue)))
                let terminal = try await allowed(conn, "workflow_runs_finished_iff_terminal")
                #expect(terminal == Set(RunStatus.allCases.filter(\.isTerminal).map(\.rawValue)))
            }
        }
    }

    @Test func everyRaisedCodeIsKnownAndEveryKnownCodeIsRaised() throws {
        // Raised directly (ERRCODE = 'TR…') or as a validation problem's code ('code', 'TR…').
        let files = SQLCatalogue.embedded.definitions + SQLCatalogue.embedded.migrations.map(\.file)
        let raised = Set(files.flatMap { file in file.contents.matches(of: /'(TR[0-9]{3})'/).map { String($0.output.1) } })
        let known = Set(TrellisErrorCode.allCases.map(\.rawValue))
        #expect(raised.subtracting(known).isEmpty, "raised in SQL but unknown to Swift: \(raised.subtracting(known).sorted())")
        #expect(known.subtracting(raised).isEmpty, "known to Swift but never raised: \(known.subtracting(raised).sorted())")
    }
}
