import Testing
import TrellisCore

@Suite("TextTable")
struct TextTableTests {
    @Test func alignsColumnsWithoutTrailingSpaces() {
        var table = TextTable(headers: ["VERSION", "NAME", "STATE"])
        table.append(["0001", "initial_schema", "applied"])
        table.append(["0002", "x", ""])
        #expect(table.render() == """
            VERSION  NAME            STATE
            0001     initial_schema  applied
            0002     x
            """)
    }

    @Test func rendersHeaderAloneWhenEmpty() {
        #expect(TextTable(headers: ["A", "B"]).render() == "A  B")
    }
}
