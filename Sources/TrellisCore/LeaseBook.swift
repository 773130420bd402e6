/// A scheduler's local view of the leases it holds: for each node run, the attempt (the
/// fencing token) and the moment it must give the work up unless a heartbeat renews it.
///
/// Deadlines are measured from when the claim or heartbeat was *sent*, so they fall
/// before the server's expiry (which counts from when it was applied), less a margin: a
/// scheduler cut off from the database stops its handlers before another scheduler can
/// reclaim the nodes. A plain value; time is an input.
public struct LeaseBook<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Entry: Sendable, Equatable {
        public var attempt: Int
        public var deadline: Instant
    }

    public private(set) var entries: [Int64: Entry] = [:]
    public let lease: Duration
    /// How long before the lease's end a handler is given up: a tenth of the lease, at
    /// least 100 ms.
    public let margin: Duration

    public init(lease: Duration) {
        self.lease = lease
        self.margin = max(lease / 10, .milliseconds(100))
    }

    /// Records a claim sent at `sentAt`. Returns the attempt of an older entry for the same
    /// node run that this one replaces (its handler must be stopped), if any.
    public mutating func claimed(_ nodeRunID: Int64, attempt: Int, sentAt: Instant) -> Int? {
        let previous = entries[nodeRunID]
        entries[nodeRunID] = Entry(attempt: attempt, deadline: sentAt.advanced(by: lease - margin))
        return previous.flatMap { $0.attempt == attempt ? nil : $0.attempt }
    }

    /// A heartbeat sent at `sentAt` renewed these (id, attempt) pairs; entries whose
    /// attempt changed meanwhile are left alone.
    public mutating func renewed(_ held: [(nodeRunID: Int64, attempt: Int)], sentAt: Instant) {
        for (id, attempt) in held where entries[id]?.attempt == attempt {
            entries[id]!.deadline = sentAt.advanced(by: lease - margin)
        }
    }

    /// Forgets a node run's entry when it is for `attempt`; false when a newer claim holds it.
    @discardableResult
    public mutating func released(_ nodeRunID: Int64, attempt: Int) -> Bool {
        guard entries[nodeRunID]?.attempt == attempt else { return false }
        entries[nodeRunID] = nil
        return true
    }

    /// Removes and returns the entries whose deadline has passed at `now`.
    public mutating func expired(at now: Instant) -> [(nodeRunID: Int64, attempt: Int)] {
        let due = entries.filter { $0.value.deadline <= now }
        for id in due.keys { entries[id] = nil }
        return due.map { ($0.key, $0.value.attempt) }.sorted { $0.nodeRunID < $1.nodeRunID }
    }

    /// What to list in the next heartbeat.
    public var held: [(nodeRunID: Int64, attempt: Int)] {
        entries.map { ($0.key, $0.value.attempt) }.sorted { $0.nodeRunID < $1.nodeRunID }
    }

    public var count: Int { entries.count }
}
