import Testing
@testable import TrellisScheduler

/// The loop's doorbell: a signal nobody waited for is kept for the next wait, unless the
/// loop clears it before the drain that answers it.
@Suite("Wakeup")
struct WakeupTests {
    @Test func aSignalWhileNobodyWaitsIsKeptForTheNextWait() async {
        let wakeup = Wakeup()
        await wakeup.signal()
        await wakeup.signal()
        #expect(await wakeup.isPending)
        await wakeup.wait(timeout: .seconds(3_600))  // returns at once: the signal was kept
        #expect(await !wakeup.isPending, "signals collapse into one")
    }

    @Test func aClearedSignalDoesNotEndTheNextWait() async {
        let wakeup = Wakeup()
        await wakeup.signal()
        await wakeup.clear()
        #expect(await !wakeup.isPending)
        // Only a new signal ends this wait (a stale one would have returned it at once).
        let waiting = Task { await wakeup.wait(timeout: .seconds(3_600)) }
        for _ in 0..<1_000 where await !wakeup.isWaiting { try? await Task.sleep(for: .milliseconds(1)) }
        #expect(await wakeup.isWaiting, "the wait must block until the next signal")
        await wakeup.signal()
        await waiting.value
        #expect(await !wakeup.isPending)
    }
}
