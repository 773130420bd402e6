import Foundation
import Testing
@testable import TrellisRelay

/// The buffer between the hub and one subscriber, as a plain value with no I/O.
@Suite("Subscriber queue")
struct SubscriberQueueTests {
    let run = UUID()

    func events(_ seqs: ClosedRange<Int64>) -> [RelayEvent] {
        seqs.map { RelayEvent(runID: run, seq: $0, type: "node.started", timestamp: Date(), data: "{}") }
    }

    /// Waits until a subscriber task is parked in `next()`: what the test does next must
    /// wake it rather than find something already there.
    func parked(_ queue: SubscriberQueue) async {
        while !queue.hasWaiter { await Task.yield() }
    }

    func seqs(_ next: SubscriberQueue.Next) -> [Int64]? {
        if case .events(let events) = next { events.map(\.seq) } else { nil }
    }

    @Test func deliversPushedBatchesTogetherAndWaitsForMore() async {
        let queue = SubscriberQueue(limit: 10)
        queue.push(events(1...2))
        queue.push(events(3...3))
        #expect(seqs(await queue.next()) == [1, 2, 3])
        // Nothing buffered: next waits until a push arrives.
        let waiting = Task { await queue.next() }
        await parked(queue)
        queue.push(events(4...5))
        #expect(seqs(await waiting.value) == [4, 5])
    }

    @Test func overflowDropsTheBufferAndAsksForAResync() async {
        let queue = SubscriberQueue(limit: 3)
        queue.push(events(1...2))
        queue.push(events(3...4))
        guard case .resync = await queue.next() else { Issue.record("expected resync"); return }
        // After the resync the queue works again.
        queue.push(events(5...5))
        #expect(seqs(await queue.next()) == [5])
    }

    @Test func heartbeatOnlyAfterAWholeQuietTick() async {
        let queue = SubscriberQueue()
        queue.push(events(1...1))
        queue.tick() // something arrived during this interval: no heartbeat
        #expect(seqs(await queue.next()) == [1])
        let waiting = Task { await queue.next() }
        await parked(queue)
        queue.tick() // a quiet interval
        guard case .idle = await waiting.value else { Issue.record("expected a heartbeat"); return }
    }

    @Test func closeEndsAWaitingSubscriberAndRefusesPushes() async {
        let queue = SubscriberQueue()
        let waiting = Task { await queue.next() }
        await parked(queue)
        queue.close()
        guard case .closed = await waiting.value else { Issue.record("expected closed"); return }
        queue.push(events(1...1))
        guard case .closed = await queue.next() else { Issue.record("expected closed after close"); return }
    }

    @Test func resyncWakesAWaitingSubscriber() async {
        let queue = SubscriberQueue()
        let waiting = Task { await queue.next() }
        await parked(queue)
        queue.resync()
        guard case .resync = await waiting.value else { Issue.record("expected resync"); return }
    }
}
