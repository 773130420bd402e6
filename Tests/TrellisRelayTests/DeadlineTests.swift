import Dispatch
import Testing
import TrellisTestSupport

/// `withDeadline`, which bounds this target's HTTP and WebSocket clients: a body that does
/// not stop when cancelled must not hold the caller past its deadline.
@Suite("withDeadline")
struct DeadlineTests {
    struct Refused: Error {}

    @Test func returnsTheBodysValueOrError() async throws {
        #expect(try await withDeadline(.seconds(10), "a quick answer") { 42 } == 42)
        await #expect(throws: Refused.self) { try await withDeadline(.seconds(10), "a refusal") { () async throws -> Int in throw Refused() } }
    }

    @Test func aBodyThatIgnoresCancellationIsLeftBehind() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(200), "a peer that never answers") { () async throws -> Int in
                // Deaf to cancellation, like a read on a stream that stays open.
                await withCheckedContinuation { done in DispatchQueue.global().asyncAfter(deadline: .now() + 5) { done.resume() } }
                return 1
            }
        }
        #expect(ContinuousClock.now - started < .seconds(4), "the caller waited for the body")
        #expect(error?.description.contains("a peer that never answers") == true)
    }
}
