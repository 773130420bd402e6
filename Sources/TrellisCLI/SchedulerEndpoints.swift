import Foundation
import Hummingbird
import Logging
import TrellisRelay
import TrellisScheduler

/// `trellis scheduler --metrics-port`: Prometheus metrics (`/metrics`), liveness
/// (`/healthz`: the process serves) and readiness (`/readyz`: every lane connected to the
/// database and registered; 503 otherwise) over HTTP, for Prometheus, systemd and orchestrators.
enum SchedulerEndpoints {
    /// Serves until the calling task is cancelled; `onRunning` gets the bound port.
    static func serve(host: String, port: Int, scheduler: SchedulerLanes, metrics: SchedulerMetrics,
                      onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router()
        router.get("/metrics") { _, _ in HTTPReply.prometheus(metrics.text()) }
        router.get("/healthz") { _, _ in HTTPReply.json(#"{"status": "ok"}"#) }
        router.get("/readyz") { _, _ in
            scheduler.isReady ? HTTPReply.json(#"{"status": "ready"}"#)
                : HTTPReply.json(#"{"status": "not_ready", "reason": "not connected to the database or not registered"}"#,
                                 status: .serviceUnavailable)
        }
        var logger = Logger(label: "trellis-scheduler-http")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "trellis-scheduler"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}
