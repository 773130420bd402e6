import Testing
import TrellisCore

@Suite struct SchedulerLoopTests {
    let zero = TestInstant(offset: .zero)
    let settings = SchedulerLoop<TestInstant>.Settings(
        concurrency: 8, batch: 3, lease: .seconds(30), pollInterval: .seconds(1), shutdownGrace: .seconds(30))

    func at(_ milliseconds: Int) -> TestInstant { zero.advanced(by: .milliseconds(milliseconds)) }

    @Test func claimsFreeCapacityInBatchesAndReclaimsOnTheFirstPass() {
        var loop = SchedulerLoop(settings: settings, now: zero)
        #expect(loop.plan(now: zero, inFlight: 0) == [.claim(max: 3), .reclaim])
        loop.reclaimed(at: zero)
        #expect(loop.plan(now: at(10), inFlight: 6) == [.claim(max: 2)])
        #expect(loop.plan(now: at(20), inFlight: 8).isEmpty)  // full: nothing to claim
    }

    @Test func heartbeatsEveryThirdAndReclaimsEveryHalfLease() {
        var loop = SchedulerLoop(settings: settings, now: zero)
        loop.reclaimed(at: zero)
        #expect(loop.plan(now: at(9_999), inFlight: 8).isEmpty)
        #expect(loop.plan(now: at(10_000), inFlight: 8) == [.heartbeat])
        loop.heartbeatSent(at: at(10_000))
        #expect(loop.plan(now: at(15_000), inFlight: 8) == [.reclaim])
        loop.reclaimed(at: at(15_000))
        #expect(loop.plan(now: at(20_000), inFlight: 8) == [.heartbeat])
    }

    /// A long lease still heartbeats every 10 s: liveness is read from heartbeat age.
    @Test func aLongLeaseHeartbeatsAtLeastEveryTenSeconds() {
        var loop = SchedulerLoop(settings: .init(concurrency: 8, batch: 3, lease: .seconds(600), pollInterval: .seconds(60),
                                                 shutdownGrace: .seconds(30)), now: zero)
        loop.reclaimed(at: zero)
        #expect(loop.heartbeatInterval == .seconds(10))
        #expect(loop.plan(now: at(9_999), inFlight: 8).isEmpty)
        #expect(loop.plan(now: at(10_000), inFlight: 8) == [.heartbeat])
        loop.heartbeatSent(at: at(10_000))
        #expect(loop.idle(now: at(12_000), claimed: 0, leftReady: false) == .seconds(8))  // not the 60 s poll
    }

    @Test func waitsForADoorbellButNeverPastTheNextHeartbeat() {
        var loop = SchedulerLoop(settings: settings, now: zero)
        loop.reclaimed(at: zero)
        #expect(loop.plan(now: zero, inFlight: 0) == [.claim(max: 3)])
        #expect(loop.idle(now: zero, claimed: 3, leftReady: false) == nil)  // a full batch: more may be ready
        #expect(loop.plan(now: zero, inFlight: 3) == [.claim(max: 3)])
        #expect(loop.idle(now: zero, claimed: 2, leftReady: false) == .seconds(1))  // short: it took all there was
        #expect(loop.plan(now: zero, inFlight: 8).isEmpty)
        #expect(loop.idle(now: zero, claimed: 0, leftReady: false) == .seconds(1))  // nothing asked, nothing full
        #expect(loop.idle(now: zero, claimed: 0, leftReady: true) == nil)
        #expect(loop.idle(now: zero, claimed: 0, leftReady: false) == .seconds(1))
        #expect(loop.idle(now: at(9_600), claimed: 0, leftReady: false) == .milliseconds(400))
        #expect(loop.idle(now: at(12_000), claimed: 0, leftReady: false) == .milliseconds(10))  // overdue: at once, almost
    }

    /// Schedules are fired on the first pass, then when the next is due — at least every
    /// second — and the idle wait never runs past that; a stopping instance fires none.
    @Test func firesSchedulesWhenTheNextIsDueAndAtLeastEverySecond() {
        var firing = settings
        firing.fireSchedules = true
        var loop = SchedulerLoop(settings: firing, now: zero)
        loop.reclaimed(at: zero)
        #expect(loop.plan(now: zero, inFlight: 8) == [.fireSchedules])
        loop.schedulesFired(at: zero, nextDueIn: .milliseconds(300))
        #expect(loop.plan(now: at(299), inFlight: 8).isEmpty)
        #expect(loop.idle(now: at(100), claimed: 0, leftReady: false) == .milliseconds(200))
        #expect(loop.plan(now: at(300), inFlight: 8) == [.fireSchedules])
        loop.schedulesFired(at: at(300), nextDueIn: .seconds(3_600))  // far off: still look every second
        #expect(loop.plan(now: at(1_299), inFlight: 8).isEmpty)
        #expect(loop.plan(now: at(1_300), inFlight: 8) == [.fireSchedules])
        loop.schedulesFired(at: at(1_300), nextDueIn: nil)
        loop.stopRequested(at: at(2_400))
        #expect(loop.plan(now: at(2_400), inFlight: 1).isEmpty)
        var quiet = SchedulerLoop(settings: settings, now: zero)
        #expect(quiet.plan(now: zero, inFlight: 8) == [.reclaim], "off unless asked for")
    }

    /// Checked at start (before the loop), then every interval from the last check — a
    /// check on reconnecting counts — first in its pass, and never while stopping.
    @Test func checksTheSchemaEveryIntervalFirstInItsPass() {
        var checking = settings
        checking.schemaCheckInterval = .seconds(60)
        var loop = SchedulerLoop(settings: checking, now: zero)
        loop.reclaimed(at: zero)
        #expect(loop.plan(now: zero, inFlight: 8).isEmpty, "checked at start")
        loop.heartbeatSent(at: at(59_000))
        loop.reclaimed(at: at(59_000))
        #expect(loop.plan(now: at(59_999), inFlight: 8).isEmpty)
        #expect(loop.plan(now: at(60_000), inFlight: 0) == [.checkSchema, .claim(max: 3)])
        loop.schemaChecked(at: at(60_000))
        loop.heartbeatSent(at: at(70_000))
        loop.reclaimed(at: at(70_000))
        #expect(loop.plan(now: at(70_000), inFlight: 8).isEmpty)
        loop.schemaChecked(at: at(100_000))  // a reconnect's check
        loop.heartbeatSent(at: at(159_000))
        loop.reclaimed(at: at(159_000))
        #expect(loop.plan(now: at(159_999), inFlight: 8).isEmpty)
        #expect(loop.plan(now: at(160_000), inFlight: 8) == [.checkSchema])
        loop.stopRequested(at: at(160_000))
        #expect(loop.plan(now: at(160_000), inFlight: 1).isEmpty, "a stopping scheduler makes no new check")
        var unchecked = SchedulerLoop(settings: settings, now: zero)
        unchecked.reclaimed(at: zero)
        unchecked.heartbeatSent(at: at(3_600_000))
        unchecked.reclaimed(at: at(3_600_000))
        #expect(unchecked.plan(now: at(3_600_000), inFlight: 8).isEmpty, "off unless asked for")
    }

    @Test func aStopDrainsThenCancelsAfterTheGrace() {
        var loop = SchedulerLoop(settings: settings, now: zero)
        loop.reclaimed(at: zero)
        loop.stopRequested(at: at(1_000))
        #expect(loop.isStopping)
        #expect(loop.plan(now: at(2_000), inFlight: 2).isEmpty)  // no claims while stopping
        #expect(loop.idle(now: at(2_000), claimed: 0, leftReady: false) == .milliseconds(100))
        #expect(loop.plan(now: at(10_000), inFlight: 2) == [.heartbeat])  // leases still renewed
        loop.heartbeatSent(at: at(10_000))
        #expect(loop.plan(now: at(31_000), inFlight: 1) == [.cancelAll, .stop])
        var drained = SchedulerLoop(settings: settings, now: zero)
        drained.stopRequested(at: zero)
        #expect(drained.plan(now: at(5), inFlight: 0) == [.stop])
    }

    /// A stop is kept even by a loop whose passes all fail: the grace still ends it.
    @Test func theGraceEndsAStopWhateverThePassesDo() {
        var loop = SchedulerLoop(settings: settings, now: zero)
        #expect(!loop.graceOver(now: at(100_000)), "not stopping")
        loop.stopRequested(at: at(1_000))
        _ = loop.failed()
        #expect(!loop.graceOver(now: at(30_999)))
        #expect(loop.graceOver(now: at(31_000)))
        loop.stopRequested(at: at(20_000))  // a second signal does not move the deadline
        #expect(loop.graceOver(now: at(31_000)))
    }

    @Test func errorsBackOffDoublingToFiveSecondsAndACleanPassResets() {
        var loop = SchedulerLoop(settings: settings, now: zero)
        let pauses = (0..<9).map { _ in loop.failed() }
        #expect(pauses.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
                == [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000])
        _ = loop.idle(now: zero, claimed: 0, leftReady: false)
        #expect(loop.failed() == .milliseconds(50))
    }
    /// Siblings that finish a moment behind the first are waited for, briefly; nothing
    /// else holds a pass's results back.
    @Test func aPassWaitsBrieflyForSiblingsThatHaveJustBegun() {
        typealias Loop = SchedulerLoop<TestInstant>
        let us = { (n: Int) in Duration.microseconds(n) }
        // Handlers began 100 µs ago and are still running: wait a slice, again while slices
        // bring results, never past the budget.
        #expect(Loop.gatherWait(stillRunning: 7, sinceLastBegun: us(100), lingered: .zero, lastSliceBrought: true) == us(200))
        #expect(Loop.gatherWait(stillRunning: 3, sinceLastBegun: us(300), lingered: us(200), lastSliceBrought: true) == us(200))
        #expect(Loop.gatherWait(stillRunning: 3, sinceLastBegun: us(500), lingered: us(400), lastSliceBrought: true) == us(100))
        #expect(Loop.gatherWait(stillRunning: 3, sinceLastBegun: us(600), lingered: us(500), lastSliceBrought: true) == nil)
        // A slice that brought nothing ends the wait: the rest are not about to finish.
        #expect(Loop.gatherWait(stillRunning: 3, sinceLastBegun: us(300), lingered: us(200), lastSliceBrought: false) == nil)
        // Nothing else running (an idle scheduler, the last of a level): report at once.
        #expect(Loop.gatherWait(stillRunning: 0, sinceLastBegun: us(100), lingered: .zero, lastSliceBrought: true) == nil)
        // The handlers still running began long ago (a model call, a request): at once.
        #expect(Loop.gatherWait(stillRunning: 5, sinceLastBegun: .milliseconds(1), lingered: .zero, lastSliceBrought: true) == nil)
        #expect(Loop.gatherWait(stillRunning: 5, sinceLastBegun: .seconds(20), lingered: .zero, lastSliceBrought: true) == nil)
    }
}
