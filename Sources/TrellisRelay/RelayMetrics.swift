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
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "trellis", subsystem: "relay", metricName: metric, unitName: unit, helpText: help)
        }
        clients = registry.makeGauge(descriptor: name("clients", "", "Connected SSE and WebSocket clients."))
        events = registry.makeCounter(descriptor: name("events", "total", "Events written to clients."))
        lag = registry.makeDurationHistogram(
            descriptor: name("delivery_lag", "seconds", "Event ts (database time at insert) to write, for live (not replayed) events."),
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .seconds(1), .seconds(5)])
        requests = registry.makeDurationHistogram(
            descriptor: name("request_duration", "seconds", "HTTP API latency (streams excluded)."),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .seconds(1)])
        resyncs = registry.makeCounter(descriptor: name("resyncs", "total", "Subscribers resynced from the log (overflow or reconnect)."))
    }

    public func text() -> String { registry.emitToString() }
}
