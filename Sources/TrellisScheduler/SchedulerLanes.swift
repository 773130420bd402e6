import Logging
import TrellisStore

/// Several schedulers in one process ("lanes"): independent claim/report loops over the
/// same handlers, each with its own database connections and its own registration
/// (`NAME/1`, `NAME/2`, …), the concurrency split evenly between them.
///
/// Why: one loop leaves the database idle whenever it is between round trips — decoding a
/// claim, starting handlers, gathering and encoding results — and a batch's report and
/// the next claim of the same runs wait on each other's row locks. A second loop's round
/// trips fill those gaps. On this project's 2-core machine, two scheduler processes of 100
/// drained a flat backlog 34 % faster than one, DAG bursts 50 % and fan-outs 45–64 %
/// faster, with one-at-a-time latency and pickup unchanged; lanes give one process that.
/// Each lane is a whole scheduler: its leases, heartbeats and stop are its own, so a lane
/// that loses its connection does not hold the other up, and `kill -9` of the process
/// loses the leases of every lane alike (they are reclaimed as any scheduler's are).
public final class SchedulerLanes: Sendable {
    public let lanes: [Scheduler]

    public init(databaseURL: String, registry: HandlerRegistry, options: SchedulerOptions, lanes: Int,
                metrics: SchedulerMetrics? = nil, logger: Logger? = nil) {
        let split = Self.split(options, lanes: lanes)
        let siblings = LaneSiblings()
        self.lanes = split.enumerated().map { index, lane in
            Scheduler(databaseURL: databaseURL, registry: registry, options: lane, metrics: metrics, logger: logger,
                      siblings: siblings, lane: index)
        }
    }

    /// The lanes' options: never more lanes than handlers allowed in flight; the
    /// concurrency divided as evenly as it goes (batch at most a lane's concurrency),
    /// artifact connections likewise (at least one each); only the first lane fires
    /// schedules (any instance may; one per process is enough). One lane keeps the name.
    public static func split(_ options: SchedulerOptions, lanes: Int) -> [SchedulerOptions] {
        let count = count(lanes: lanes, concurrency: options.concurrency)
        guard count > 1 else { return [options] }
        return (0..<count).map { index in
            var lane = options
            lane.name = "\(options.name)/\(index + 1)"
            lane.concurrency = options.concurrency / count + (index < options.concurrency % count ? 1 : 0)
            lane.batch = min(options.batch, lane.concurrency)
            lane.artifactConnections = max(1, (options.artifactConnections + count - 1) / count)
            lane.fireSchedules = options.fireSchedules && index == 0
            return lane
        }
    }

    /// The lanes a process asked for `lanes` runs: never more than handlers in flight.
    public static func count(lanes: Int, concurrency: Int) -> Int { max(1, min(lanes, concurrency)) }

    /// Every lane connected and registered.
    public var isReady: Bool { lanes.allSatisfy(\.isReady) }

    /// Asks every lane to stop (see `Scheduler.requestStop`).
    public func requestStop() {
        for lane in lanes { lane.requestStop() }
    }

    /// Runs every lane until all have stopped; returns what they did together. A lane that
    /// fails (an unknown handler, a bad lease) stops the others, and its error is thrown
    /// once they have stopped.
    public func run() async throws -> SchedulerSummary {
        try await withThrowingTaskGroup(of: SchedulerSummary.self) { group in
            for lane in lanes {
                group.addTask { try await lane.run() }
            }
            var total = SchedulerSummary()
            var failure: (any Error)?
            while let result = await group.nextResult() {
                switch result {
                case .success(let summary):
                    total.add(summary)
                case .failure(let error):
                    if failure == nil {
                        failure = error
                        requestStop()
                    }
                }
            }
            if let failure { throw failure }
            return total
        }
    }
}
