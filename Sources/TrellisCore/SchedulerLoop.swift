/// The scheduler's decisions as a plain value: what to do on each pass of its loop, given
/// what happened — no I/O, time as an input. `trellis scheduler` executes the actions
/// (claim, heartbeat, reclaim, fire schedules, check the schema, wait, back off, stop); tests drive it with a
/// manual clock.
///
/// A pass: the runner reports finished handlers, asks `plan` for the pass's actions and
/// runs them, then asks `idle` whether to wait (and how long) before the next pass.
public struct SchedulerLoop<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Settings: Sendable, Equatable {
        public var concurrency: Int
        public var batch: Int
        public var lease: Duration
        public var pollInterval: Duration
        public var shutdownGrace: Duration
        /// Whether this instance fires due schedules (every instance may; each tick fires once).
        public var fireSchedules: Bool
        /// How often a running scheduler compares the database's schema with its binary's
        /// (nil: only at start and on reconnecting).
        public var schemaCheckInterval: Duration?

        public init(concurrency: Int, batch: Int, lease: Duration, pollInterval: Duration, shutdownGrace: Duration,
                    fireSchedules: Bool = false, schemaCheckInterval: Duration? = nil) {
            self.concurrency = concurrency
            self.batch = batch
            self.lease = lease
            self.pollInterval = pollInterval
            self.shutdownGrace = shutdownGrace
            self.fireSchedules = fireSchedules
            self.schemaCheckInterval = schemaCheckInterval
        }
    }

    public enum Action: Sendable, Equatable {
        /// Claim up to this many ready nodes.
        case claim(max: Int)
        /// Renew the leases of the handlers in flight.
        case heartbeat
        /// Re-queue expired leases and apply due approval expiries (every instance does).
        case reclaim
        /// Start the runs of due schedules.
        case fireSchedules
        /// Compare the database's schema with the binary's: a migration run while this
        /// scheduler stayed connected must stop it, as it would have refused to start.
        case checkSchema
        /// The grace period ran out: cancel every handler still running.
        case cancelAll
        /// Report what is left, release held nodes, deregister, return.
        case stop
    }

    public let settings: Settings
    private var lastHeartbeat: Instant
    private var lastReclaim: Instant?
    private var stopRequestedAt: Instant?
    private var nextScheduleCheck: Instant?
    /// The schema was checked at start (before the loop), so the first check is an interval on.
    private var lastSchemaCheck: Instant
    /// What the last pass's claim asked for (0: it claimed nothing).
    private var asked = 0
    /// The pause after the next error (50 ms, doubling to 5 s; reset by a clean pass).
    public private(set) var errorBackoff: Duration = Self.firstBackoff

    static var firstBackoff: Duration { .milliseconds(50) }
    static var maxBackoff: Duration { .seconds(5) }
    /// How often a stopping scheduler looks at its handlers in flight.
    static var stoppingTick: Duration { .milliseconds(100) }

    public init(settings: Settings, now: Instant) {
        self.settings = settings
        self.lastHeartbeat = now
        self.lastSchemaCheck = now
    }

    public var isStopping: Bool { stopRequestedAt != nil }

    /// A third of the lease (two heartbeats may be lost before a lease lapses), but at
    /// least every 10 s: liveness (`trellis status`) reads heartbeat age, and a long lease
    /// must not make a live scheduler look dead.
    public var heartbeatInterval: Duration { min(settings.lease / 3, Self.maxHeartbeatInterval) }
    public static var maxHeartbeatInterval: Duration { .seconds(10) }
    /// Schedules are looked at when the next one is due, and at least this often (others
    /// may create one at any time).
    public static var maxScheduleCheck: Duration { .seconds(1) }

    /// SIGTERM/SIGINT: no new claims; handlers in flight get `shutdownGrace` to finish.
    public mutating func stopRequested(at now: Instant) {
        if stopRequestedAt == nil { stopRequestedAt = now }
    }

    /// Stopping, and the grace is over: the loop ends even when its passes keep failing
    /// (a pass that throws before `plan` never reaches its `.stop`), so SIGTERM always ends
    /// a scheduler within its grace plus one backoff.
    public func graceOver(now: Instant) -> Bool {
        stopRequestedAt.map { now >= $0.advanced(by: settings.shutdownGrace) } ?? false
    }

    /// The actions of one pass, in order.
    public mutating func plan(now: Instant, inFlight: Int) -> [Action] {
        var actions: [Action] = []
        asked = 0
        // First in its pass: nothing else is called against a schema found foreign.
        if stopRequestedAt == nil, let interval = settings.schemaCheckInterval, lastSchemaCheck.duration(to: now) >= interval {
            actions.append(.checkSchema)
        }
        if let stopAt = stopRequestedAt {
            if inFlight == 0 { return [.stop] }
            if now >= stopAt.advanced(by: settings.shutdownGrace) { return [.cancelAll, .stop] }
        } else if inFlight < settings.concurrency {
            asked = min(settings.batch, settings.concurrency - inFlight)
            actions.append(.claim(max: asked))
        }
        if lastHeartbeat.duration(to: now) >= heartbeatInterval {
            actions.append(.heartbeat)
        }
        if stopRequestedAt == nil, lastReclaim.map({ $0.duration(to: now) >= settings.lease / 2 }) ?? true {
            actions.append(.reclaim)
        }
        if stopRequestedAt == nil, settings.fireSchedules, nextScheduleCheck.map({ now >= $0 }) ?? true {
            actions.append(.fireSchedules)
        }
        return actions
    }

    /// A heartbeat was sent at `at` (renewals count from the send).
    public mutating func heartbeatSent(at instant: Instant) { lastHeartbeat = instant }

    public mutating func reclaimed(at instant: Instant) { lastReclaim = instant }

    /// The schema was found to match at `at` (a periodic check, or one on reconnecting).
    public mutating func schemaChecked(at instant: Instant) { lastSchemaCheck = instant }

    /// Schedules were fired at `now`; the next one is due in `nextDueIn` (nil: none is).
    public mutating func schedulesFired(at now: Instant, nextDueIn: Duration?) {
        nextScheduleCheck = now.advanced(by: max(.zero, min(nextDueIn ?? Self.maxScheduleCheck, Self.maxScheduleCheck)))
    }

    /// After a pass: nil to go again at once — the claim came back full (more may be
    /// ready), or the pass left nodes ready that none of its claims took (`leftReady`:
    /// results reported on another connection or without a claim, leases reclaimed,
    /// schedules fired) — else how long to wait for a doorbell before the next pass: the
    /// poll interval, but never past the next heartbeat; a stopping scheduler checks its
    /// handlers every 100 ms. A claim that came back short took everything ready for this
    /// scheduler: going again at once only made an empty claim (new work rings a doorbell,
    /// a handler's result wakes the loop).
    public mutating func idle(now: Instant, claimed: Int, leftReady: Bool) -> Duration? {
        errorBackoff = Self.firstBackoff  // the pass went through
        if (asked > 0 && claimed >= asked) || leftReady { return nil }
        if stopRequestedAt != nil { return Self.stoppingTick }
        var wait = min(settings.pollInterval, heartbeatInterval - lastHeartbeat.duration(to: now))
        if settings.fireSchedules, let nextScheduleCheck {
            wait = min(wait, now.duration(to: nextScheduleCheck))
        }
        return max(.milliseconds(10), wait)
    }

    /// A handler that began this recently may be a sibling of one that just finished.
    public static var gatherWindow: Duration { .milliseconds(1) }
    /// The longest a pass waits for siblings in all, and for each further result.
    public static var gatherBudget: Duration { .microseconds(500) }
    public static var gatherSlice: Duration { .microseconds(200) }

    /// Before a pass reports what finished: how long to wait for one more result first, or
    /// nil to report now. Handlers claimed together often finish together (a DAG level's
    /// siblings), and a result reported without its siblings costs them a whole further
    /// round trip (4–5 ms here) before what depends on them can be claimed. So while
    /// handlers are still in flight and the latest of them began within `gatherWindow`, the
    /// pass waits a slice at a time for as long as each slice brings a result, at most
    /// `gatherBudget` in all; a handler that has been running longer (a model call, a
    /// request) does not hold results back, and neither does an idle scheduler.
    /// `stillRunning` excludes the results in hand; `lingered` is the wait so far.
    public static func gatherWait(stillRunning: Int, sinceLastBegun: Duration, lingered: Duration,
                                  lastSliceBrought: Bool) -> Duration? {
        guard stillRunning > 0, lastSliceBrought, sinceLastBegun < gatherWindow, lingered < gatherBudget else { return nil }
        return min(gatherSlice, gatherBudget - lingered)
    }

    /// A pass failed with an error that is neither a lost connection nor transient:
    /// returns how long to back off (doubling each time, at most 5 s).
    public mutating func failed() -> Duration {
        defer { errorBackoff = min(errorBackoff * 2, Self.maxBackoff) }
        return errorBackoff
    }
}
