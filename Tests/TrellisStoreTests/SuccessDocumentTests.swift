import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore

/// The hand-written batch document complete_nodes reads, held to the Codable encoding it
/// replaced (no database: the SQL side is covered by every test that completes nodes).
@Suite struct SuccessDocumentTests {
    static func object(_ document: PGJSON) throws -> NSArray {
        try #require(try JSONSerialization.jsonObject(with: Data(document.text.utf8)) as? NSArray)
    }

    @Test func matchesTheCodableEncoding() throws {
        let batch: [SchedulerStore.Success] = [
            .init(id: 1, attempt: 1, output: .object([:])),
            .init(id: 9_007_199_254_740_993, attempt: 3, output: .object(["rows": .array([.number(1.5), .string("a\"b\\c\n"), .null])]),
                  cost: Decimal(string: "0.001234"), tokensIn: 120, tokensOut: 7),
            .init(id: 3, attempt: 2, output: .string("plain"), cost: Decimal(12)),
            .init(id: 4, attempt: 1, output: .array([]), cost: Decimal(string: "-0.5"), tokensIn: 0),
        ]
        let written = try SchedulerStore.Success.document(batch)
        #expect(try Self.object(written) == Self.object(try PGJSON(encoding: batch)))
        #expect(written.text.hasPrefix(#"[{"attempt":1,"id":1,"output":{}},{"attempt":3,"cost":0.001234,"id":9007199254740993,"#))
    }

    @Test func aNumberJSONCannotHoldIsRefusedAsBefore() {
        let batch = [SchedulerStore.Success(id: 1, attempt: 1, output: .array([.number(.nan)]))]
        #expect(throws: (any Error).self) { try SchedulerStore.Success.document(batch) }
        #expect(throws: (any Error).self) { try PGJSON(encoding: batch) }
    }
}
