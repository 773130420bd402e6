import Synchronization
import Testing
import TrellisPQ
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

    /// How a database failure reaches the retry: every form of a lost connection —
    /// libpq's own error (no SQLSTATE, e.g. "server closed the connection unexpectedly"
    /// when an upload's write meets a terminated backend), the server ending the session,
    /// a connection exception — is `artifacts_unavailable` and retryable; a refused
    /// statement is not sent again.
    @Test func everyFormOfALostConnectionIsSentAgainAndARefusalIsNot() {
        let lost: [PGError] = [
            PGError(kind: .connectionClosed, message: "connection to db lost: server closed the connection unexpectedly"),
            PGError(kind: .connection, message: "cannot connect"),
            PGError(kind: .server, message: "terminating connection due to administrator command", sqlState: "57P01"),
            PGError(kind: .server, message: "terminating connection because of crash of another server process", sqlState: "57P02"),
            PGError(kind: .server, message: "the database system is starting up", sqlState: "57P03"),
            PGError(kind: .server, message: "connection failure", sqlState: "08006"),
        ]
        for error in lost {
            let mapped = NodeArtifacts.handlerError(for: error)
            #expect(mapped.code == "artifacts_unavailable" && mapped.retryable, "\(error)")
        }
        let refused: [(PGError, String)] = [
            (PGError(kind: .server, message: "unique violation", sqlState: "23505"), "artifact_error"),
            (PGError(kind: .server, message: "no such artifact", sqlState: "TR404"), "artifact_not_found"),
            (PGError(kind: .server, message: "permission denied", sqlState: "42501"), "artifact_forbidden"),
        ]
        for (error, code) in refused {
            let mapped = NodeArtifacts.handlerError(for: error)
            #expect(mapped.code == code && !mapped.retryable, "\(error)")
        }
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
