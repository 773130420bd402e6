import Testing
@testable import TrellisCore

@Suite("Tabular rendering")
struct TabularTests {
    let sample = Tabular(columns: ["workflow", "runs", "ok", "note", "data"], rows: [
        [.text("etl"), .number("12"), .bool(true), .text("say \"hi\", then\nleave"), .json(#"{"a": [1, 2]}"#)],
        [.text("gate"), .number("0.5000"), .bool(false), .null, .null],
    ])

    @Test func tableUpperCasesHeadersAndFlattensNewlines() {
        #expect(sample.render(.table) == """
            WORKFLOW  RUNS    OK   NOTE                  DATA
            etl       12      yes  say "hi", then leave  {"a": [1, 2]}
            gate      0.5000  no
            """)
    }

    @Test func jsonKeepsTypesAndColumnOrder() {
        #expect(sample.render(.json) == """
            [
              {"workflow": "etl", "runs": 12, "ok": true, "note": "say \\"hi\\", then\\nleave", "data": {"a": [1, 2]}},
              {"workflow": "gate", "runs": 0.5000, "ok": false, "note": null, "data": null}
            ]
            """)
        #expect(Tabular(columns: ["x"]).render(.json) == "[]")
        #expect(Tabular.quote("tab\there\u{1}") == #""tab\there\u0001""#)
    }

    @Test func csvQuotesOnlyWhatNeedsIt() {
        #expect(sample.render(.csv) == "workflow,runs,ok,note,data\r\n"
            + "etl,12,true,\"say \"\"hi\"\", then\nleave\",\"{\"\"a\"\": [1, 2]}\"\r\n"
            + "gate,0.5000,false,,")
    }
}
