import Foundation

/// The bounded buffer between the hub and one subscriber. The hub never waits on a
/// client: it pushes and moves on. A subscriber that falls more than `limit` events
/// behind loses its buffer and is told to resync from the log (its cursor), so a slow
/// client costs itself a database read, never a gap, and never stalls anyone else.
actor SubscriberQueue {
    enum Next: Sendable {
        case events([RelayEvent])
        /// Buffer overflowed: read the log from the cursor.
        case resync
        /// Nothing within the wait (time for a heartbeat).
        case idle
        case closed
    }

    let limit: Int
    private var buffer: [RelayEvent] = []
    private var overflowed = false
    private var closed = false
    private var waiter: CheckedContinuation<Void, Never>?

    init(limit: Int = 1000) {
        self.limit = limit
    }

    func push(_ events: [RelayEvent]) {
        guard !closed, !events.isEmpty else { return }
        if buffer.count + events.count > limit {
            buffer = []
            overflowed = true
        } else {
            buffer += events
        }
        waiter?.resume()
        waiter = nil
    }

    /// Asks for a catch-up read (after a LISTEN reconnect).
    func resync() {
        buffer = []
        overflowed = true
        waiter?.resume()
        waiter = nil
    }

    func close() {
        closed = true
        waiter?.resume()
        waiter = nil
    }

    func next(wait: Duration) async -> Next {
        if closed { return .closed }
        if buffer.isEmpty && !overflowed {
            let timer = Task { [weak self] in
                try? await Task.sleep(for: wait)
                await self?.wake()
            }
            await withCheckedContinuation { waiter = $0 }
            timer.cancel()
        }
        if closed { return .closed }
        if overflowed {
            overflowed = false
            return .resync
        }
        if buffer.isEmpty { return .idle }
        defer { buffer = [] }
        return .events(buffer)
    }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }
}
