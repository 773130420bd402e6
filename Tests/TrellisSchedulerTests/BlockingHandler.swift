import Synchronization
import TrellisCore
import TrellisScheduler

/// A handler (`block`) that holds its node until cancelled, counting starts and cancels:
/// for tests of how a cancel reaches a running handler. `probe`, when given, is read at
/// each cancel and kept in `probed`: what the scheduler had done by then (say, its
/// lost-lease count), so a test can tell how the cancel came without timing it.
final class BlockingHandler: NodeHandler {
    let name = "block"
    let started = Atomic<Int>(0)
    let cancelled = Atomic<Int>(0)
    private let probe: (@Sendable () -> Double?)?
    private let readings = Mutex<[Double?]>([])

    init(probe: (@Sendable () -> Double?)? = nil) {
        self.probe = probe
    }

    /// The probe's readings, one per cancel, in order.
    var probed: [Double?] { readings.withLock { $0 } }

    func run(_ context: NodeContext) async throws -> HandlerOutput {
        started.add(1, ordering: .relaxed)
        do {
            try await Task.sleep(for: .seconds(600))
        } catch {
            if let probe { readings.withLock { $0.append(probe()) } }
            cancelled.add(1, ordering: .relaxed)
            throw error
        }
        return HandlerOutput(.null)
    }
}
