import Foundation
import Prometheus
import TrellisStore

/// What `trellis scheduler --metrics-port` reports (Prometheus text format): claims and
/// their batch sizes, nodes by outcome, handler durations per handler, heartbeats and
/// lost leases, reclaims, scheduled runs started, database round-trip times, reconnects
/// and loop errors. One
/// instance per scheduler process; the scheduler records, the HTTP endpoint renders.
public final class SchedulerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let claims: Counter
    let claimedNodes: Counter
    let batchSize: ValueHistogram
    let readyLag: DurationHistogram
    let inFlight: Gauge
    let heartbeats: Counter
    let leasesLost: Counter
    let reclaimed: Counter
    let scheduledRuns: Counter
    let roundTrip: DurationHistogram
    let reconnects: Counter
    let errors: Counter
    private let outcomes: [String: Counter]

    static let outcomeNames = ["succeeded", "failed", "refused", "cancelled", "waiting"]

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "trellis", subsystem: "scheduler", metricName: metric, unitName: unit, helpText: help)
    }

    public init() {
        claims = registry.makeCounter(descriptor: Self.name("claims", "total", "Claim calls."))
        claimedNodes = registry.makeCounter(descriptor: Self.name("claimed_nodes", "total", "Nodes claimed."))
        batchSize = registry.makeValueHistogram(descriptor: Self.name("claim_batch", "nodes", "Nodes per claim call."),
                                                buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
        readyLag = registry.makeDurationHistogram(
            descriptor: Self.name("ready_lag", "seconds", "Claimable to claimed, per node (database clock)."),
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
                      .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(300)])
        inFlight = registry.makeGauge(descriptor: Self.name("in_flight", "", "Handlers running."))
        heartbeats = registry.makeCounter(descriptor: Self.name("heartbeats", "total", "Lease renewals sent."))
        leasesLost = registry.makeCounter(descriptor: Self.name("leases_lost", "total",
                                                                "Nodes this scheduler held whose lease it no longer had at a heartbeat."))
        reclaimed = registry.makeCounter(descriptor: Self.name("reclaimed", "total", "Expired leases (of any scheduler) this one re-queued."))
        scheduledRuns = registry.makeCounter(descriptor: Self.name("scheduled_runs", "total", "Runs this instance started for due schedule ticks."))
        roundTrip = registry.makeDurationHistogram(
            descriptor: Self.name("database_round_trip", "seconds", "Claim, report and heartbeat calls, send to answer."),
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                      .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)])
        reconnects = registry.makeCounter(descriptor: Self.name("reconnects", "total", "Database connections lost and opened again."))
        errors = registry.makeCounter(descriptor: Self.name("loop_errors", "total", "Scheduler passes that failed and were retried."))
        var outcomes: [String: Counter] = [:]
        for outcome in Self.outcomeNames {
            outcomes[outcome] = registry.makeCounter(descriptor: Self.name("nodes", "total", "Node results by outcome."),
                                                     labels: [("outcome", outcome)])
        }
        self.outcomes = outcomes
    }

    func claimed(_ claims: [SchedulerStore.Claim]) {
        self.claims.increment()
        claimedNodes.increment(by: Int64(claims.count))
        batchSize.record(Double(claims.count))
        for claim in claims {
            if let waited = claim.waitedMilliseconds { readyLag.record(.microseconds(Int64(waited * 1000))) }
        }
    }

    func finished(_ outcome: String, count: Int = 1) {
        guard count > 0 else { return }
        outcomes[outcome]?.increment(by: Int64(count))
    }

    /// The registry hands back the one histogram registered for a handler's label.
    func handler(_ name: String, ran duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.name("handler_duration", "seconds", "Handler run time, by handler."), labels: [("handler", name)],
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
                      .seconds(1), .seconds(5), .seconds(30), .seconds(120), .seconds(600)]
        ).record(duration)
    }

    /// The Prometheus text exposition.
    public func text() -> String { registry.emitToString() }
}
