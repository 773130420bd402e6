import Synchronization
import TrellisCore

/// The handlers a scheduler is running, with the local lease deadline of each
/// (`LeaseBook`). Shared by the main loop and the lease watchdog, which must be able to
/// stop handlers while the loop is stuck on an unreachable database.
final class InFlight: Sendable {
    private struct State {
        var book: LeaseBook<ContinuousClock.Instant>
        var tasks: [Int64: Task<Void, Never>] = [:]
    }

    private let state: Mutex<State>

    init(lease: Duration) {
        state = Mutex(State(book: LeaseBook(lease: lease)))
    }

    /// Records a claim sent at `sentAt` and its handler task. A task still running for an
    /// older attempt of the same node run (its lease was lost and the node came back to
    /// this scheduler) is cancelled, never orphaned.
    func add(_ nodeRunID: Int64, attempt: Int, sentAt: ContinuousClock.Instant, task: Task<Void, Never>) {
        let older: Task<Void, Never>? = state.withLock { state in
            let replaced = state.book.claimed(nodeRunID, attempt: attempt, sentAt: sentAt)
            let previous = state.tasks[nodeRunID]
            state.tasks[nodeRunID] = task
            return replaced == nil ? nil : previous
        }
        older?.cancel()
    }

    /// Forgets a finished handler; false when a newer attempt holds the node run.
    @discardableResult
    func remove(_ nodeRunID: Int64, attempt: Int) -> Bool {
        state.withLock { state in
            guard state.book.released(nodeRunID, attempt: attempt) else { return false }
            state.tasks[nodeRunID] = nil
            return true
        }
    }

    func renewed(_ held: [(nodeRunID: Int64, attempt: Int)], sentAt: ContinuousClock.Instant) {
        state.withLock { $0.book.renewed(held, sentAt: sentAt) }
    }

    /// Cancels a handler (run cancelled, lease refused by a heartbeat) and forgets it.
    func cancel(_ nodeRunID: Int64) {
        let task: Task<Void, Never>? = state.withLock { state in
            guard let attempt = state.book.entries[nodeRunID]?.attempt else { return nil }
            state.book.released(nodeRunID, attempt: attempt)
            return state.tasks.removeValue(forKey: nodeRunID)
        }
        task?.cancel()
    }

    /// Cancels and forgets every handler whose lease could not be renewed in time.
    func cancelExpired(at now: ContinuousClock.Instant) -> [(nodeRunID: Int64, attempt: Int)] {
        let (due, tasks): ([(nodeRunID: Int64, attempt: Int)], [Task<Void, Never>]) = state.withLock { state in
            let due = state.book.expired(at: now)
            return (due, due.compactMap { state.tasks.removeValue(forKey: $0.nodeRunID) })
        }
        tasks.forEach { $0.cancel() }
        return due
    }

    func cancelAll() {
        let tasks = state.withLock { state in
            defer {
                state.tasks = [:]
                for (id, attempt) in state.book.held { state.book.released(id, attempt: attempt) }
            }
            return Array(state.tasks.values)
        }
        tasks.forEach { $0.cancel() }
    }

    var held: [(nodeRunID: Int64, attempt: Int)] { state.withLock { $0.book.held } }
    var count: Int { state.withLock { $0.book.count } }
    var isEmpty: Bool { count == 0 }
}
