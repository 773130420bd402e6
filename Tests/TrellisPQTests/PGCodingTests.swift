import Foundation
import Testing
@testable import TrellisPQ

@Suite("Text-format coding without a database")
struct PGCodingTests {
    @Test func parsesArrayLiterals() {
        #expect(PGArrayLiteral.parse("{}") == [])
        #expect(PGArrayLiteral.parse("{a,b}") == ["a", "b"])
        #expect(PGArrayLiteral.parse(#"{"a b","c\"d",NULL,"NULL"}"#) == ["a b", "c\"d", nil, "NULL"])
        #expect(PGArrayLiteral.parse("a,b") == nil)
        #expect(PGArrayLiteral.parse("{{1,2},{3,4}}") == nil)
    }

    @Test func formatsAndParsesTimestamps() {
        let date = Date(timeIntervalSince1970: 1_795_384_697.123456)
        let text = PGTimestamp.format(date)
        #expect(text == "2026-11-22T21:58:17.123456Z")
        #expect(PGTimestamp.parse("2026-11-22 21:58:17.123456+00")?.timeIntervalSince1970 == date.timeIntervalSince1970)
        #expect(PGTimestamp.parse("2026-11-22 23:58:17.123456+02")?.timeIntervalSince1970 == date.timeIntervalSince1970)
        #expect(PGTimestamp.parse("1969-12-31 23:59:59+00")?.timeIntervalSince1970 == -1)
        #expect(PGTimestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
        #expect(PGTimestamp.parse("not a date") == nil)
        #expect(PGTimestamp.parse("infinity") == .distantFuture)
    }

    @Test func hexWritesTwoLowerCaseDigitsPerByteFromAnySequence() throws {
        let every = Data((0...255).map(UInt8.init))
        let expected = (0...255).map { String(format: "%02x", $0) }.joined()
        #expect(Hex.lowercase(every) == expected)
        #expect(try every.pgText() == #"\x"# + expected)
        #expect(Hex.lowercase(every.lazy.map { $0 }) == expected)  // not contiguous: copied first
        #expect(Hex.lowercase(Data()) == "")
        #expect(try Data().pgText() == #"\x"#)
        #expect(try Data(pgText: try every.pgText()) == every)
    }

    @Test func aNulByteAnywhereInAParameterIsRefused() throws {
        let long = String(repeating: "y", count: 1 << 20)
        for text in ["\u{0}" + long, long + "\u{0}", "a\u{0}b", "\u{0}"] {
            #expect(throws: PGError.self) { try Optional<any PGEncodable>.some(text).encodedParameter(index: 2) }
        }
        #expect(try Optional<any PGEncodable>.some(long).encodedParameter(index: 1) == long)
        #expect(try Optional<any PGEncodable>.some("").encodedParameter(index: 1) == "")
        #expect(try Optional<any PGEncodable>.none.encodedParameter(index: 1) == nil)
    }

    @Test func decodingErrorsNameTheValue() {
        #expect(throws: PGError.self) { try Int(pgText: "12x") }
        #expect(throws: PGError.self) { try Bool(pgText: "maybe") }
        #expect(throws: PGError.self) { try Data(pgText: "\\xzz") }
        #expect(throws: PGError.self) { try [Int](pgText: "{1,NULL}") }
    }

    @Test func errorDescriptionIsOneLine() {
        let error = PGError(kind: .server, message: "first\nsecond", sqlState: "23505", detail: "d\ne", hint: "h")
        #expect(error.description == "first; second (SQLSTATE 23505); d; e; hint: h")
    }
}
