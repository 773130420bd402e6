import Testing
import TrellisCore

/// A manual instant: tests move time by hand.
struct TestInstant: InstantProtocol, Sendable {
    var offset: Duration
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
}

@Suite struct LeaseBookTests {
    let zero = TestInstant(offset: .zero)

    @Test func aClaimExpiresBeforeTheServerLeaseEnds() {
        var book = LeaseBook<TestInstant>(lease: .seconds(30))
        #expect(book.margin == .seconds(3))
        _ = book.claimed(7, attempt: 1, sentAt: zero)
        #expect(book.expired(at: zero.advanced(by: .seconds(26))).isEmpty)
        let due = book.expired(at: zero.advanced(by: .seconds(27)))
        #expect(due.map(\.nodeRunID) == [7] && due.map(\.attempt) == [1])
        #expect(book.count == 0)
    }

    @Test func aHeartbeatRenewsOnlyTheAttemptItListed() {
        var book = LeaseBook<TestInstant>(lease: .seconds(2))
        #expect(book.margin == .milliseconds(200))
        _ = book.claimed(1, attempt: 1, sentAt: zero)
        _ = book.claimed(2, attempt: 1, sentAt: zero)
        let listed = book.held
        // Node 2 is re-claimed (attempt 2) while the heartbeat for attempt 1 is in flight.
        let replaced = book.claimed(2, attempt: 2, sentAt: zero.advanced(by: .milliseconds(500)))
        #expect(replaced == 1)
        book.renewed(listed, sentAt: zero.advanced(by: .seconds(1)))
        #expect(book.entries[1]?.deadline == zero.advanced(by: .milliseconds(2_800)))
        #expect(book.entries[2]?.deadline == zero.advanced(by: .milliseconds(2_300)))
    }

    @Test func anOldAttemptCannotReleaseANewClaim() {
        var book = LeaseBook<TestInstant>(lease: .seconds(10))
        _ = book.claimed(5, attempt: 1, sentAt: zero)
        let replaced = book.claimed(5, attempt: 2, sentAt: zero)
        #expect(replaced == 1)
        let releasedOld = book.released(5, attempt: 1)
        #expect(releasedOld == false)
        #expect(book.count == 1)
        let releasedNew = book.released(5, attempt: 2)
        #expect(releasedNew)
        #expect(book.count == 0)
    }

    @Test func theSameAttemptTwiceReplacesNothing() {
        var book = LeaseBook<TestInstant>(lease: .seconds(10))
        _ = book.claimed(5, attempt: 3, sentAt: zero)
        let replaced = book.claimed(5, attempt: 3, sentAt: zero)
        #expect(replaced == nil)
    }
}
