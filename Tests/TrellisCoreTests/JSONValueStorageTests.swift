import Testing
import TrellisCore

@Suite struct JSONValueStorageTests {
    @Test func storableValuesPass() {
        let value: JSONValue = .object(["rows": .array([.object(["x": .number(1.5), "s": .string("é"), "n": .null])])])
        #expect(value.storageProblem(maxBytes: 1_000) == nil)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteNumbersAreInvalid(_ number: Double) {
        let value: JSONValue = .object(["rows": .array([.object(["x": .number(number)])])])
        #expect(value.storageProblem(maxBytes: 1_000) == .invalid(path: "$.rows[0].x", reason: "\(number) is not a JSON number"))
        #expect(value.storageProblem(maxBytes: 1_000)?.code == "invalid_output")
    }

    @Test func nulInStringsAndKeysIsInvalid() {
        #expect(JSONValue.array([.string("a\u{0}b")]).storageProblem(maxBytes: 100)?.code == "invalid_output")
        #expect(JSONValue.object(["k\u{0}": .null]).storageProblem(maxBytes: 100)?.code == "invalid_output")
    }

    @Test func oversizedOutputStopsCountingAtTheCap() {
        let big = JSONValue.array(Array(repeating: .string(String(repeating: "x", count: 1_000)), count: 1_000))
        guard case .tooLarge(let size, let limit)? = big.storageProblem(maxBytes: 10_000) else {
            Issue.record("expected tooLarge")
            return
        }
        #expect(limit == 10_000)
        #expect(size > 10_000 && size < 12_100)  // stopped within one element of the cap
        #expect(big.storageProblem(maxBytes: 2_000_000) == nil)
    }

    @Test func integersAreCheckedNotTrapped() {
        #expect(JSONValue.number(1e300).integer(in: 0...100) == nil)
        #expect(JSONValue.number(.nan).integer(in: 0...100) == nil)
        #expect(JSONValue.number(2.5).integer(in: 0...100) == nil)
        #expect(JSONValue.string("3").integer(in: 0...100) == nil)
        #expect(JSONValue.number(42).integer(in: 0...100) == 42)
        #expect(JSONValue.number(-1).integer(in: 0...100) == nil)
    }
}
