import Foundation
import Hummingbird
import Logging
import TrellisScheduler

/// `trellis scheduler --metrics-port`: Prometheus metrics (`/metrics`), liveness
/// (`/healthz`: the process serves) and readiness (`/readyz`: connected to the database
/// and registered; 503 otherwise) over HTTP, for Prometheus, systemd and orchestrators.
enum SchedulerEndpoints {
    /// Serves until the calling task is cancelled; `onRunning` gets the bound port.
    static func serve(host: String, port: Int, scheduler: Scheduler, metrics: SchedulerMetrics,
                      onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router()
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
        }
        router.get("/healthz") { _, _ in json(#"{"status": "ok"}"#) }
        router.get("/readyz") { _, _ in
            scheduler.isReady ? json(#"{"status": "ready"}"#)
                : json(#"{"status": "not_ready", "reason": "not connected to the database or not registered"}"#, status: .serviceUnavailable)
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

    private static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
