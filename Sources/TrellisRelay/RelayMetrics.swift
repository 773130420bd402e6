import Foundation
import Prometheus

/// What `GET /metrics` reports (Prometheus text format): connected stream clients, events
/// relayed, delivery lag (event `ts` → written to the client) and API latency.
public final class RelayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let clients: Gauge
    let events: Counter
    let lag: DurationHistogram
    let requests: DurationHistogram
    let resyncs: Counter

    public init() {
        clients = registry.makeGauge(name: "trellis_relay_clients", help: "Connected SSE and WebSocket clients.")
        events = registry.makeCounter(name: "trellis_relay_events_total", help: "Events written to clients.")
        lag = registry.makeDurationHistogram(
            name: "trellis_relay_delivery_lag_seconds",
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .seconds(1), .seconds(5)],
            help: "Event ts (database time at insert) to write, for live (not replayed) events.")
        requests = registry.makeDurationHistogram(
            name: "trellis_relay_request_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .seconds(1)],
            help: "HTTP API latency (streams excluded).")
        resyncs = registry.makeCounter(name: "trellis_relay_resyncs_total", help: "Subscribers resynced from the log (overflow or reconnect).")
    }

    public func text() -> String { registry.emitToString() }
}
