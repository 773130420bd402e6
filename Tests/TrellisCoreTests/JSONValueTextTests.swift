import Foundation
import Testing
import TrellisCore

/// The hand-written JSON text of `JSONValue` held to Foundation's coders, which it
/// replaces on the scheduler's hot path.
@Suite struct JSONValueTextTests {
    static func decoded(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static let documents = [
        "{}", "[]", "null", "true", "false", "0", "-0", "42", "-17", "3.25", "1e3", "1E-7", "-2.5e+10",
        "12345678901234567890", "0.1", #""""#, #""plain""#, #""é ü 日本 🎉""#,
        #""esc \" \\ \/ \b \f \n \r \t""#, #""\u0041\u00e9\u65e5\ud83c\udf89""#,
        #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}, "": 0}"#,
        #" { "spaced" : [ 1 , 2 ] } "#, #"{"a": 1, "a": 2}"#,
        #"[{"id": 1, "output": {"rows": [[1, "x", null]]}}, {"id": 2, "output": []}]"#,
    ]

    @Test(arguments: documents)
    func parsesAsJSONDecoderDoes(_ text: String) throws {
        let parsed = try #require(JSONValue(jsonText: text))
        #expect(parsed == Self.decoded(text))
    }

    static let malformed = [
        "", " ", "{", "}", "[1,]", "[1 2]", #"{"a" 1}"#, #"{"a": 1,}"#, #"{a: 1}"#, "01", "1.", ".5", "-", "+1",
        "1e", "1e+", "tru", "nul", "NaN", "Infinity", "1e999", #""unterminated"#, #""bad \x escape""#,
        "\"raw \n newline\"", #""\ud83c alone""#, #""\udf89 low first""#, #""\u12G4""#, "[1] 2", "{} {}",
    ]

    @Test(arguments: malformed)
    func declinesWhatIsNotJSON(_ text: String) {
        #expect(JSONValue(jsonText: text) == nil)
    }

    @Test func declinesNestingPastItsDepthAndTheFallbackStillReads() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONValue(jsonText: deep) == nil)
        let shallow = String(repeating: "[", count: 100) + "1" + String(repeating: "]", count: 100)
        #expect(JSONValue(jsonText: shallow) == Self.decoded(shallow))
    }

    @Test(arguments: documents)
    func writesTextJSONDecoderReadsBack(_ text: String) throws {
        let value = try #require(Self.decoded(text))
        let written = try value.jsonText()
        #expect(Self.decoded(written) == value)
        #expect(JSONValue(jsonText: written) == value)
    }

    @Test func writesCompactSortedTextAndWholeNumbersWithoutAFraction() throws {
        let value: JSONValue = .object(["b": .number(2), "a": .array([.number(1.5), .null, .bool(true)]), "c": .string("x\"y\n\u{1}")])
        #expect(try value.jsonText() == #"{"a":[1.5,null,true],"b":2,"c":"x\"y\n\u0001"}"#)
        #expect(try JSONValue.number(-0.0).jsonText() == "0")
        #expect(try JSONValue.number(9.5e15).jsonText() == "9.5e+15")
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func refusesNumbersJSONCannotHold(_ number: Double) {
        #expect(throws: JSONValue.UnrepresentableNumber.self) { try JSONValue.array([.number(number)]).jsonText() }
    }

    /// Random documents (seeded): parse and write agree with the coders both ways.
    @Test func randomDocumentsRoundTripLikeTheCoders() throws {
        var generator = SeededGenerator(seed: 20261201)
        func scalar() -> Unicode.Scalar {
            let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x0...0x1F, 0xA0...0x2FF, 0x3040...0x30FF, 0x1F300...0x1F64F]
            let pool = pools[Int.random(in: 0..<pools.count, using: &generator)]
            return Unicode.Scalar(UInt32.random(in: pool, using: &generator))!
        }
        func text() -> String {
            var view = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...8, using: &generator) { view.append(scalar()) }
            return String(view)
        }
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2:
                let choices: [Double] = [Double(Int.random(in: -1_000_000...1_000_000, using: &generator)),
                                         Double.random(in: -1e6...1e6, using: &generator), 1e-9 * Double.random(in: 1...9, using: &generator)]
                return .number(choices[Int.random(in: 0..<choices.count, using: &generator)])
            case 3: return .string(text())
            case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in value(depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for _ in 0..<Int.random(in: 0...4, using: &generator) { members[text()] = value(depth + 1) }
                return .object(members)
            }
        }
        let encoder = JSONEncoder()
        for _ in 0..<500 {
            let original = value(0)
            let written = try original.jsonText()
            #expect(Self.decoded(written) == original, "JSONDecoder reads back \(written)")
            let reference = String(decoding: try encoder.encode(original), as: UTF8.self)
            #expect(JSONValue(jsonText: reference) == original, "parses JSONEncoder's \(reference)")
        }
    }
}
