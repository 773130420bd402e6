import Synchronization
import TrellisStore

/// What the lanes of one process know of each other (`SchedulerLanes`; a scheduler run on
/// its own is a process of one lane, so there is one listener path): the backend of each
/// lane's main connection, each lane's room and whether it waits for work, and a way to
/// wake a lane or pass it a cancel.
///
/// A scheduler ignores the readiness doorbells its own main connection rings: the pass
/// that rang one claimed in the same transaction, so it took what its results made ready,
/// or goes again at once. Its sibling lanes may ignore them for the same reason — waking
/// for them made an empty claim per doorbell per lane (one DAG run at a time measured
/// 0.3–0.9 ms slower with two lanes than with one) — except
/// when the lane that rang cannot go again because it holds all it may: then it wakes its
/// siblings itself (`wakeOthers`), so ready work never waits for a poll.
///
/// The process LISTENs once, on the first lane (a connection per lane woke every lane for
/// every doorbell rung elsewhere, and all but one made an empty claim): a doorbell from
/// outside wakes one lane (`wakeForDoorbell`), and that lane, if it comes back full,
/// wakes the others as above.
final class LaneSiblings: Sendable {
    /// A lane as the listener sees it.
    struct Load: Equatable, Sendable {
        /// Handlers it may still start.
        var room: Int
        /// Parked until a doorbell or its poll (set before its wait, cleared by a wake).
        var waiting: Bool
    }

    private struct Lane {
        var wake: @Sendable () -> Void
        var cancel: @Sendable (Int64) -> Void
    }

    private struct Members {
        var registered: [Int: Lane] = [:]
        /// The lanes whose loop runs: the ones doorbells and cancels go to.
        var running: [Int: Lane] = [:]
        /// The first lane's listener, which serves them.
        var listener: Task<Void, Never>?
    }

    private let backends = Mutex<[Int: Int32]>([:])
    private let members = Mutex(Members())
    private let loads = Mutex<[Int: Load]>([:])
    /// Breaks ties between equally loaded lanes, so doorbells spread over them.
    private let turn = Atomic<Int>(0)
    /// The schema mismatch one lane found: its siblings stop the same way, without one
    /// more call (a graceful stop would report and deregister against the changed schema).
    private let refusal = Mutex<MigrationError?>(nil)

    /// Lane `lane` found the database's schema changed: the others stop at their next pass.
    func refuse(_ mismatch: MigrationError, by lane: Int) {
        refusal.withLock { if $0 == nil { $0 = mismatch } }
        wakeOthers(than: lane)
    }

    /// What a lane of this process found, if any has.
    var schemaRefusal: MigrationError? { refusal.withLock { $0 } }

    /// Lane `lane`'s main connection is now this backend.
    func setBackend(_ pid: Int32, of lane: Int) {
        backends.withLock { $0[lane] = pid }
    }

    /// The backend is the main connection of one of the process's lanes (0: none; a lane
    /// whose connection was lost forgets its backend, whose pid another session may get).
    func isLaneBackend(_ pid: Int32) -> Bool {
        pid != 0 && backends.withLock { $0.values.contains(pid) }
    }

    func register(lane: Int, wake: @escaping @Sendable () -> Void, cancel: @escaping @Sendable (Int64) -> Void) {
        members.withLock { $0.registered[lane] = Lane(wake: wake, cancel: cancel) }
    }

    /// Lane `lane`'s loop has begun: doorbells and cancels go to it.
    func laneStarted(_ lane: Int) {
        members.withLock { $0.running[lane] = $0.registered[lane] }
    }

    /// The listener serves every lane, so it is cancelled when the last lane stops, not
    /// with the first lane's loop.
    func keepListening(_ task: Task<Void, Never>) {
        let stopped = members.withLock { members -> Bool in
            guard !members.running.isEmpty else { return true }
            members.listener = task
            return false
        }
        if stopped { task.cancel() }
    }

    /// Lane `lane`'s loop has returned: doorbells and cancels no longer go to it, and the
    /// listener stops with the last lane.
    func laneStopped(_ lane: Int) {
        let listener = members.withLock { members -> Task<Void, Never>? in
            members.running[lane] = nil
            guard members.running.isEmpty else { return nil }
            defer { members.listener = nil }
            return members.listener
        }
        loads.withLock { $0[lane] = nil }
        backends.withLock { $0[lane] = nil }
        listener?.cancel()
    }

    /// Lane `lane` now has this room and is (or is not) parked waiting for work.
    func setLoad(_ load: Load, of lane: Int) {
        loads.withLock { $0[lane] = load }
    }

    /// Wakes every lane but `lane` (their next pass claims what `lane` left).
    func wakeOthers(than lane: Int) {
        for (index, each) in members.withLock({ $0.running }) where index != lane { each.wake() }
    }

    /// Wakes every lane (the listener (re)connected: whatever rang meanwhile is unknown).
    func wakeAll() {
        for each in members.withLock({ $0.running }).values { each.wake() }
    }

    /// A cancel request for a node run: every lane records it, then wakes (in that order,
    /// so its next pass sees it); whichever holds the node stops it.
    func cancel(_ nodeRunID: Int64) {
        for each in members.withLock({ $0.running }).values { each.cancel(nodeRunID) }
    }

    /// Wakes the one lane a doorbell rung elsewhere calls for (`choose`); it is no longer
    /// counted as waiting, so the next doorbell before its pass wakes another.
    func wakeForDoorbell() {
        let running = members.withLock { $0.running }
        let chosen = loads.withLock { loads -> Int? in
            let known = running.keys.sorted().map { (lane: $0, load: loads[$0] ?? Load(room: 1, waiting: false)) }
            guard let lane = Self.choose(known, turn: turn.add(1, ordering: .relaxed).newValue) else { return nil }
            loads[lane]?.waiting = false
            return lane
        }
        if let chosen { running[chosen]?.wake() }
    }

    /// The lane to wake: one parked with room (the most room first), else one with room
    /// (it is mid-pass and goes again after it), else any — every lane is full and each goes
    /// again as its handlers finish. Ties go round by `turn`.
    static func choose(_ lanes: [(lane: Int, load: Load)], turn: Int) -> Int? {
        guard !lanes.isEmpty else { return nil }
        func best(_ candidates: [(lane: Int, load: Load)]) -> Int? {
            guard let most = candidates.map(\.load.room).max() else { return nil }
            let tied = candidates.filter { $0.load.room == most }
            return tied[((turn % tied.count) + tied.count) % tied.count].lane
        }
        return best(lanes.filter { $0.load.waiting && $0.load.room > 0 })
            ?? best(lanes.filter { $0.load.room > 0 })
            ?? best(lanes)
    }
}
