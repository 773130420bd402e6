import Testing
import TrellisCore

@Suite("Duration text")
struct DurationTextTests {
    @Test func parsesEveryUnitAndRefusesTheRest() {
        #expect(DurationText.seconds("500ms") == 0.5)
        #expect(DurationText.seconds("45s") == 45)
        #expect(DurationText.seconds("90m") == 5400)
        #expect(DurationText.seconds("12h") == 43200)
        #expect(DurationText.seconds(" 30d ") == 2_592_000)
        for bad in ["", "d", "0d", "-1d", "1.5h", "10", "3w", "ms", "1 d"] {
            #expect(DurationText.seconds(bad) == nil, "\(bad)")
        }
    }
}
