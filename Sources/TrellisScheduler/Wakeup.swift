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
