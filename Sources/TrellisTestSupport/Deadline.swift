import Synchronization

/// Runs `body` and returns what it returns, or throws `DeadlineExceeded` once `timeout`
/// has passed — without waiting for `body` to notice: it is cancelled and left behind.
/// For client calls that can wait for ever on a peer that never answers or never closes
/// (an HTTP stream that stays open, a WebSocket close that crosses the server's), which
/// structured concurrency would wait for even after cancelling: such a test fails with
/// `what` instead of hanging its whole target until CI's time limit.
public func withDeadline<T: Sendable>(_ timeout: Duration, _ what: String,
                                      _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.begin(continuation)
        let work = Task {
            do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            work.cancel()
            race.finish(.failure(DeadlineExceeded(description: "timed out after \(timeout): \(what)")))
        }
        race.onFinish { timer.cancel() }
    }
}

public struct DeadlineExceeded: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Whichever of the work and the timer finishes first resumes the caller; the other is ignored.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var cleanup: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let (continuation, cleanup) = state.withLock { state -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard state.outcome == nil else { return (nil, nil) }
            state.outcome = outcome
            defer { state.continuation = nil }
            return (state.continuation, state.cleanup)
        }
        cleanup?()
        continuation?.resume(with: outcome)
    }

    /// Runs `cleanup` when the race ends (at once if it has).
    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state -> Bool in
            if state.outcome != nil { return true }
            state.cleanup = cleanup
            return false
        }
        if ended { cleanup() }
    }
}
