import Foundation
import Synchronization

/// Wakes run-feed readers when the database rang (any `trellis_events` notification) or
/// the hub's safety poll ticked. Waiters resume all at once; a waiter gives up after its
/// timeout (its heartbeat), so a lost ring costs latency, never events.
final class Doorbell: Sendable {
    private let waiters = Mutex<[UUID: CheckedContinuation<Bool, Never>]>([:])

    /// Wakes every waiter (true: it rang).
    func ring() {
        let woken = waiters.withLock { waiters in
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        for waiter in woken { waiter.resume(returning: true) }
    }

    /// Waits for the next ring, at most `timeout`; false when it timed out or was cancelled.
    func wait(timeout: Duration) async -> Bool {
        let id = UUID()
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.resume(id, false)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = waiters.withLock { waiters -> Bool in
                    if Task.isCancelled { return true }
                    waiters[id] = continuation
                    return false
                }
                if cancelled { continuation.resume(returning: false) }
            }
        } onCancel: {
            self.resume(id, false)
        }
    }

    private func resume(_ id: UUID, _ value: Bool) {
        waiters.withLock { $0.removeValue(forKey: id) }?.resume(returning: value)
    }
}
