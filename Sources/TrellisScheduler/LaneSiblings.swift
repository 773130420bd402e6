import Synchronization

/// What the lanes of one process know of each other (`SchedulerLanes`): the backend of
/// each lane's main connection, and a way to wake a lane.
///
/// A scheduler ignores the readiness doorbells its own main connection rings: the pass
/// that rang one claimed in the same transaction, so it took what its results made ready,
/// or goes again at once. Its sibling lanes may ignore them for the same reason — waking
/// for them made an empty claim per doorbell per lane (one DAG run at a time measured
/// 0.3–0.9 ms slower with two lanes than with one) — except
/// when the lane that rang cannot go again because it holds all it may: then it wakes its
/// siblings itself (`wakeOthers`), so ready work never waits for a poll.
final class LaneSiblings: Sendable {
    private let backends = Mutex<[Int: Int32]>([:])
    private let wakers = Mutex<[Int: @Sendable () -> Void]>([:])

    /// Lane `lane`'s main connection is now this backend.
    func setBackend(_ pid: Int32, of lane: Int) {
        backends.withLock { $0[lane] = pid }
    }

    /// The backend is the main connection of one of the process's lanes (0: none; a lane
    /// whose connection was lost forgets its backend, whose pid another session may get).
    func isLaneBackend(_ pid: Int32) -> Bool {
        pid != 0 && backends.withLock { $0.values.contains(pid) }
    }

    func register(lane: Int, wake: @escaping @Sendable () -> Void) {
        wakers.withLock { $0[lane] = wake }
    }

    /// Wakes every lane but `lane` (their next pass claims what `lane` left).
    func wakeOthers(than lane: Int) {
        for (index, wake) in wakers.withLock({ $0 }) where index != lane { wake() }
    }
}
