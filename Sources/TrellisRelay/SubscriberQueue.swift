import Foundation
import Synchronization

/// The bounded buffer between the hub and one subscriber. The hub never waits on a
/// client: it pushes and moves on. A subscriber that falls more than `limit` events
/// behind loses its buffer and is told to resync from the log (its cursor), so a slow
/// client costs itself a database read, never a gap, and never stalls anyone else.
///
/// A lock, not an actor: the hub pushes one batch to every subscriber of a run in a
/// plain loop, with no suspension per subscriber (an actor hop each measured as the
/// largest cost of fanning out to 1,000 subscribers). Heartbeats come from the hub's one
/// ticker rather than a timer per wait, for the same reason.
final class SubscriberQueue: Sendable {
    enum Next: Sendable {
        case events([RelayEvent])
        /// Buffer overflowed: read the log from the cursor.
        case resync
        /// Nothing delivered for a whole heartbeat interval.
        case idle
        case closed
    }

    private struct State {
        var buffer: [RelayEvent] = []
        var overflowed = false
        var closed = false
        /// Something was pushed since the last tick.
        var active = false
        /// A whole tick passed without a push.
        var idle = false
        var waiter: CheckedContinuation<Void, Never>?

        /// `take` has something to return.
        var ready: Bool { closed || overflowed || idle || !buffer.isEmpty }

        /// What `next` returns now, if anything.
        mutating func take() -> Next? {
            if closed { return .closed }
            if overflowed {
                overflowed = false
                buffer = []
                return .resync
            }
            if !buffer.isEmpty {
                defer { buffer = [] }
                return .events(buffer)
            }
            if idle {
                idle = false
                return .idle
            }
            return nil
        }
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int = 1000) {
        self.limit = limit
    }

    func push(_ events: [RelayEvent]) {
        guard !events.isEmpty else { return }
        wake { state in
            guard !state.closed else { return }
            if state.buffer.count + events.count > limit {
                state.buffer = []
                state.overflowed = true
            } else {
                state.buffer += events
            }
            state.active = true
        }
    }

    /// A subscriber is parked in `next()` (for tests that must push after it waits).
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// Asks for a catch-up read (after a LISTEN reconnect).
    func resync() {
        wake { $0.overflowed = true }
    }

    func close() {
        wake { $0.closed = true }
    }

    /// One heartbeat interval passed: a queue that received nothing during it says so.
    func tick() {
        wake { state in
            if state.active { state.active = false } else { state.idle = true }
        }
    }

    /// Applies `change` under the lock and resumes a waiting `next` if it now has an answer.
    private func wake(_ change: (inout State) -> Void) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            change(&state)
            guard state.ready else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func next() async -> Next {
        while true {
            if let next = state.withLock({ $0.take() }) { return next }
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.ready { return true }
                    state.waiter = waiter
                    return false
                }
                if ready { waiter.resume() }
            }
        }
    }
}
