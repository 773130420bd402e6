import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import TrellisPQ
import TrellisStore

/// The request context: who the bearer token authenticated (set by the auth middleware).
public struct RelayContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<RelayContext>
    public var principal: String?
    /// The bearer token, kept for the life of a stream so it can be checked again: a
    /// revoked or expired token ends streams it opened (Relay.Options.revalidateEvery).
    var token: String?
    /// The connection, for socket options a WebSocket must get before its upgrade.
    let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
        principal = nil
        channel = source.channel
    }
}

/// `trellis relay`: a stateless push relay and HTTP control API over the database.
/// Any number of instances may run; they share nothing but PostgreSQL.
public struct Relay: Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var poolSize = 8
        /// Largest accepted request body.
        public var maxBody = 1 << 20
        /// Largest artifact upload (POST /v1/artifacts streams; this caps what it stores).
        public var maxArtifactBytes = 1 << 30
        /// SSE heartbeat comment / idle wake-up interval.
        public var heartbeat = Duration.seconds(15)
        /// Re-read runs with subscribers this often even without a doorbell.
        public var safetyPoll = Duration.seconds(1)
        /// Events a subscriber may fall behind before it is resynced from the log.
        public var queueLimit = 1000
        /// Server log level (requests are not logged; errors are).
        public var logLevel = Logger.Level.warning
        /// Stop gracefully on SIGTERM/SIGINT (off for in-process use, e.g. tests).
        public var handleSignals = true
        /// Open streams check their token and each run's `view` privilege again this often:
        /// a revoked token or grant, or a pruned run, ends them within this time.
        public var revalidateEvery = Duration.seconds(5)
        /// Runs one WebSocket may follow at once.
        public var maxSubscriptionsPerSocket = 100
        /// Open SSE streams and WebSockets at most, per relay; past it new ones get 503.
        public var maxStreams = 10_000
        /// Open SSE streams and WebSockets one principal may hold at once on this relay;
        /// past it its new ones get 429 (`too_many_streams`) while other principals carry on.
        /// A WebSocket is one stream however many runs it follows.
        public var maxStreamsPerPrincipal = 1_000
        /// How long a request waits for a pooled database connection before a 503.
        public var poolWait = Duration.seconds(5)
        /// A connection whose sent data stays unacknowledged, or unsent because the client
        /// stopped reading, this long is closed (TCP_USER_TIMEOUT) and its streams end;
        /// zero leaves it to the kernel's retransmission limits.
        public var sendTimeout = Duration.seconds(30)
        /// Connections the kernel queues for the relay before it accepts them (capped by
        /// net.core.somaxconn). Past it, in a reconnect storm after a relay restart, the
        /// kernel drops connection attempts and their clients retry only after 1, 3, 7 s;
        /// Hummingbird's default of 256 overflowed with 1,000 clients connecting at once.
        public var backlog = 4096
        /// How often a running relay compares the database's schema with its binary's, as at
        /// start (nil: only at start). A mismatch — a migration run while it was serving —
        /// stops it; so does one found when a database that was unreachable at start answers
        /// (that first check is tried every second until it goes through).
        public var schemaCheckInterval: Duration? = .seconds(60)

        public init() {}
    }

    public let databaseURL: String
    public let options: Options
    /// Requests, control operations and stream checks.
    let pool: ConnectionPool
    /// Event-log reads of the hub and the streams: apart from `pool`, so a burst of API
    /// requests cannot starve delivery, nor many streams the API.
    let streamPool: ConnectionPool
    let hub: EventHub
    let gate: StreamGate
    public let metrics: RelayMetrics

    public init(databaseURL: String, options: Options = Options()) {
        self.databaseURL = databaseURL
        self.options = options
        let metrics = RelayMetrics()
        let pool = ConnectionPool(url: databaseURL, capacity: options.poolSize, wait: options.poolWait, applicationName: "trellis-relay")
        let streamPool = ConnectionPool(url: databaseURL, capacity: options.poolSize, wait: options.poolWait, applicationName: "trellis-relay")
        self.pool = pool
        self.streamPool = streamPool
        self.metrics = metrics
        self.gate = StreamGate(limit: options.maxStreams, perPrincipal: options.maxStreamsPerPrincipal)
        self.hub = EventHub(url: databaseURL, pool: streamPool, metrics: metrics, safetyPoll: options.safetyPoll, heartbeat: options.heartbeat)
    }

    /// Serves in a task of its own and returns once the port is bound, with that task
    /// (cancel it to stop). A relay that fails before it binds — a schema it was not built
    /// for, a port in use — throws here instead of leaving its caller waiting for a port.
    public func start() async throws -> (port: Int, serving: Task<Void, any Error>) {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let serving = Task {
            defer { continuation.finish() }
            try await run { continuation.yield($0) }
        }
        var iterator = ports.makeAsyncIterator()
        if let port = await iterator.next() { return (port, serving) }
        try await serving.value  // ended before binding: its error says why
        throw CancellationError()
    }

    /// Serves until the task is cancelled (or SIGTERM/SIGINT with `runService`);
    /// `onRunning` gets the bound port (useful with port 0).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "trellis-relay")
        logger.logLevel = options.logLevel
        do {
            let checked = try await requireSchema(logger)
            await hub.start()
            let router = makeRouter()
            let sendTimeout = options.sendTimeout
            let app = Application(
                router: router,
                server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(
                    http1: .init(additionalChannelHandlers: [SendTimeout(sendTimeout)]),
                    ws: .init(autoPing: .enabled(timePeriod: .seconds(15))))),
                configuration: .init(address: .hostname(options.host, port: options.port), serverName: "trellis-relay",
                                     backlog: options.backlog),
                services: [SchemaWatch(pool: pool, interval: options.schemaCheckInterval, checked: checked, logger: logger)],
                onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                logger: logger)
            try await app.runService(gracefulShutdownSignals: options.handleSignals ? [.sigterm, .sigint] : [])
        } catch {
            await shutDown()
            throw error
        }
        await shutDown()
    }

    /// A relay built for another schema refuses to start. One that cannot reach the
    /// database starts anyway (answering 503 until it can): relays and databases are
    /// restarted together, and a relay must not crash-loop on a database still starting.
    /// Returns whether the schema was checked (false: the database did not answer).
    private func requireSchema(_ logger: Logger) async throws -> Bool {
        guard let unreachable = try await SchemaWatch.check(pool) else { return true }
        logger.warning("database not reachable at start-up, its schema not checked yet: \(unreachable)")
        return false
    }

    /// However `run` ended: the hub stopped (a no-op if it never started), both pools closed.
    private func shutDown() async {
        await hub.stop()
        await pool.close()
        await streamPool.close()
    }

    /// Every route the relay serves, as "METHOD /path/{param}" — what the OpenAPI
    /// document must describe (RelayContractTests).
    public var routes: [String] {
        makeRouter().routes.map { route in
            let path = route.path.description.split(separator: "/", omittingEmptySubsequences: false).map { segment in
                segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
            }.joined(separator: "/")
            return "\(route.method) \(path.hasPrefix("/") ? path : "/" + path)"
        }.sorted()
    }

    func makeRouter() -> Router<RelayContext> {
        let router = Router(context: RelayContext.self)
        router.middlewares.add(LatencyMiddleware(metrics: metrics))
        router.middlewares.add(ErrorMiddleware())
        router.get("/healthz") { _, _ in
            let answered = try await pool.withConnection { try await APIStore(connection: $0).ping() }
            return HTTPReply.json(#"{"status": "ok", "database": \#(answered)}"#)
        }
        router.get("/metrics") { _, _ in HTTPReply.prometheus(metrics.text()) }
        // The contract is public: clients and fuzzers read it before they hold a token.
        router.get("/v1/openapi.json") { _, _ in HTTPReply.json(OpenAPIDocument.json) }
        ConsoleAssets.register(on: router)
        let api = router.group("v1").add(middleware: TokenMiddleware(pool: pool))
        ControlAPI(relay: self).register(on: api)
        WorkflowAPI(relay: self).register(on: api)
        AdminAPI(relay: self).register(on: api)
        ScheduleAPI(relay: self).register(on: api)
        ArtifactAPI(relay: self).register(on: api)
        EventStreams(relay: self).register(on: api)
        AgentAPI(relay: self).register(on: api)
        return router
    }

}

/// API latency for /metrics (streams are long-lived and excluded).
struct LatencyMiddleware: RouterMiddleware {
    typealias Context = RelayContext
    let metrics: RelayMetrics
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path.hasSuffix("/events") || path.hasSuffix("/ws") { return try await next(request, context) }
        let start = ContinuousClock.now
        defer { metrics.requests.record(ContinuousClock.now - start) }
        return try await next(request, context)
    }
}

/// Turns every error into `{"error": {"code", "message"}}` with its status.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = RelayContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let relay = RelayError.from(error)
            if relay.status == .internalServerError {
                context.logger.error("\(request.method) \(request.uri.path): \(String(describing: error))")
            }
            return HTTPReply.json(relay.body, status: relay.status)
        }
    }
}

/// Bearer tokens: `Authorization: Bearer trl_…` (or `?access_token=` for browser
/// WebSockets and EventSource, which cannot set headers). The token is hashed here; only
/// the hash is sent to `authenticate_token`. Tokens are never logged.
struct TokenMiddleware: RouterMiddleware {
    typealias Context = RelayContext
    let pool: ConnectionPool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var token: String?
        if let header = request.headers[.authorization] {
            guard header.lowercased().hasPrefix("bearer ") else {
                throw RelayError(.unauthorized, "unauthorized", "Authorization must be \"Bearer <token>\"")
            }
            token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if let query = request.uri.queryParameters.get("access_token") {
            token = query
        }
        guard let token, !token.isEmpty else {
            throw RelayError(.unauthorized, "unauthorized", "missing bearer token")
        }
        var context = context
        context.principal = try await pool.withConnection { try await TokenStore(connection: $0).authenticate(token) }
        context.token = token
        return try await next(request, context)
    }
}

extension RelayContext {
    /// The authenticated principal (the auth middleware guarantees one on /v1).
    var who: String {
        get throws {
            guard let principal else { throw RelayError(.unauthorized, "unauthorized", "missing bearer token") }
            return principal
        }
    }
}
