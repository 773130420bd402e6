import Synchronization
import Testing
@testable import TrellisScheduler

/// Which failures of an artifact call are sent again (`NodeArtifacts.retryingLostConnections`):
/// a lost connection, up to three tries; nothing else.
@Suite struct ArtifactRetryTests {
    private static let lost = HandlerError(code: "artifacts_unavailable", message: "connection lost")

    private func calls(failing failures: [HandlerError]) async -> (result: Result<Int, any Error>, calls: Int) {
        let count = Atomic<Int>(0)
        do {
            let value = try await NodeArtifacts.retryingLostConnections(firstDelay: .milliseconds(1)) { () async throws -> Int in
                let call = count.add(1, ordering: .relaxed).newValue
                if call <= failures.count { throw failures[call - 1] }
                return 42
            }
            return (.success(value), count.load(ordering: .relaxed))
        } catch {
            return (.failure(error), count.load(ordering: .relaxed))
        }
    }

    @Test func aLostConnectionIsTriedAgainUpToThreeTimes() async throws {
        let twice = await calls(failing: [Self.lost, Self.lost])
        #expect(try twice.result.get() == 42 && twice.calls == 3)
        let thrice = await calls(failing: [Self.lost, Self.lost, Self.lost])
        #expect(thrice.calls == 3)
        #expect((try? thrice.result.get()) == nil)
        #expect((thrice.result.failure as? HandlerError)?.code == "artifacts_unavailable")
    }

    @Test func otherFailuresAreNotSentAgain() async {
        let outside = HandlerError(code: "artifacts_unavailable", message: "no artifact store", retryable: false)
        for failure in [outside, HandlerError(code: "artifact_not_found", message: "x", retryable: false),
                        HandlerError(code: "lease_lost", message: "x")] {
            let result = await calls(failing: [failure])
            #expect(result.calls == 1, "\(failure.code)")
        }
    }
}

private extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
