/// A level-triggered doorbell: `signal()` wakes the current or next `wait`, which
/// otherwise returns after its timeout. Signals while nobody waits collapse into one.
actor Wakeup {
    private var pending = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var generation = 0

    func signal() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            pending = true
        }
    }

    /// Forgets a signal nobody waited for. The loop calls it before it drains the inbox at
    /// the start of a pass: the results signalled during the previous pass are taken by
    /// this drain, and their stale signal would otherwise make the next wait return at once
    /// for an empty claim (one per DAG level when a batch's handlers finish while the pass
    /// that reported the first of them runs).
    func clear() {
        pending = false
    }

    /// Whether a signal is waiting to be taken by the next `wait`.
    var isPending: Bool { pending }

    /// Whether a `wait` is under way.
    var isWaiting: Bool { waiter != nil }

    func wait(timeout: Duration) async {
        if pending {
            pending = false
            return
        }
        generation += 1
        let current = generation
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(current)
        }
        await withCheckedContinuation { waiter = $0 }
        timer.cancel()
    }

    private func expire(_ token: Int) {
        guard token == generation, let waiter else { return }
        self.waiter = nil
        waiter.resume()
    }
}
