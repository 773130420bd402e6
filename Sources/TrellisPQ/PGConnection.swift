import CLibPQ
import Dispatch
import Foundation

/// One PostgreSQL connection over libpq.
///
/// libpq is blocking, so every call runs on this connection's own serial dispatch queue,
/// never on Swift's cooperative thread pool; callers simply `await`. A connection serves
/// one logical user at a time (a transaction is a sequence of calls): share connections
/// through `PGPool`, not by handing one to concurrent tasks.
///
/// Reconnects are deliberately not automatic: a dropped connection fails the call with
/// `.connectionClosed`, and the owner (a pool, a listener loop) opens a new one. After a
/// reconnect a listener must `LISTEN` again and re-read durable state, because
/// notifications sent while it was away are gone.
public final class PGConnection: @unchecked Sendable {
    private let queue: DispatchQueue
    /// Touched only on `queue`.
    private var handle: OpaquePointer?
    /// The statements prepared in this session (PGConnection+Prepared). Touched only on `queue`.
    var prepared = PreparedStatements()

    /// Database, host and port as the connection resolved them (for messages; no password).
    public let endpoint: String

    /// libpq's cancel request object: safe to use from any thread while a query runs.
    private let cancelHandle: OpaquePointer?

    private init(handle: OpaquePointer, queue: DispatchQueue, endpoint: String) {
        self.handle = handle
        self.queue = queue
        self.endpoint = endpoint
        self.cancelHandle = PQgetCancel(handle)
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        if let handle { PQfinish(handle) }
    }

    /// Asks the server to cancel the statement this connection is running (libpq's
    /// PQcancel, from any thread); that statement then fails with SQLSTATE 57014. A no-op
    /// when nothing runs.
    public func cancelRunningStatement() {
        guard let cancelHandle else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancelHandle, &buffer, Int32(buffer.count))
    }

    /// Opens a connection from a `postgresql://` URI or a `key=value` conninfo string.
    /// The session is set to UTF-8, ISO dates and UTC so text decoding is predictable.
    /// TCP keepalives probe an idle connection after 10 s (a dead peer is noticed within
    /// ~25 s); `settings` are session parameters such as `statement_timeout`, and
    /// `tcpUserTimeoutMilliseconds` bounds how long sent data may go unacknowledged — together
    /// they bound how long a black-holed server can hold a caller.
    public static func connect(_ conninfo: String, applicationName: String = "trellis",
                               settings: [String: String] = [:], tcpUserTimeoutMilliseconds: Int? = nil) async throws -> PGConnection {
        let queue = DispatchQueue(label: "trellis.pq.connection")
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result {
                    try openBlocking(conninfo, applicationName: applicationName, settings: settings,
                                     tcpUserTimeout: tcpUserTimeoutMilliseconds, queue: queue)
                })
            }
        }
    }

    /// The `options` connection parameter: the environment's PGOPTIONS first (an explicit
    /// `options` parameter makes libpq ignore PGOPTIONS, so it is carried over), then the
    /// settings decoding relies on and the caller's, which win over PGOPTIONS for the same name.
    public static func options(_ settings: [String: String], environment: String?) -> String {
        var options = environment.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 + " " } ?? ""
        options += "-c DateStyle=ISO -c TimeZone=UTC"
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            // In libpq's options, a backslash escapes the next character (spaces included).
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: " ", with: "\\ ")
            options += " -c \(name)=\(escaped)"
        }
        return options
    }

    private static func openBlocking(_ conninfo: String, applicationName: String, settings: [String: String],
                                     tcpUserTimeout: Int?, queue: DispatchQueue) throws -> PGConnection {
        // libpq keeps the last value of a repeated keyword, and `expand_dbname` expands the
        // URI/conninfo given as `dbname` in place; listing it last lets the user's string
        // override these defaults.
        let options = Self.options(settings, environment: ProcessInfo.processInfo.environment["PGOPTIONS"])
        var keys = ["application_name", "client_encoding", "options", "connect_timeout",
                    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        var values = [applicationName, "UTF8", options, "10", "1", "10", "5", "3"]
        if let tcpUserTimeout {
            keys.append("tcp_user_timeout")
            values.append(String(tcpUserTimeout))
        }
        keys.append("dbname")
        values.append(conninfo)
        let keyPointers = keys.map { strdup($0) }
        let valuePointers = values.map { strdup($0) }
        defer {
            keyPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        var keyArray: [UnsafePointer<CChar>?] = keyPointers.map { UnsafePointer($0) } + [nil]
        var valueArray: [UnsafePointer<CChar>?] = valuePointers.map { UnsafePointer($0) } + [nil]
        guard let handle = PQconnectdbParams(&keyArray, &valueArray, 1) else {
            throw PGError(kind: .connection, message: "could not allocate a libpq connection")
        }
        let endpoint = describeEndpoint(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = PGError.oneLine(String(cString: PQerrorMessage(handle)))
            PQfinish(handle)
            throw PGError(kind: .connection, message: "cannot connect to \(endpoint): \(reason)")
        }
        // Server notices (e.g. "already exists, skipping") are not errors; libpq would
        // print them to stderr, in the middle of CLI output.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        // A user-supplied `options` may have replaced ours; decoding relies on these.
        let dateStyle = PQparameterStatus(handle, "DateStyle").map { String(cString: $0) } ?? ""
        let timeZone = PQparameterStatus(handle, "TimeZone").map { String(cString: $0) } ?? ""
        if !dateStyle.hasPrefix("ISO") || timeZone != "UTC" {
            let result = PQexec(handle, "SET DateStyle TO ISO; SET TimeZone TO 'UTC'")
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COMMAND_OK else {
                let reason = PGError.oneLine(String(cString: PQerrorMessage(handle)))
                PQfinish(handle)
                throw PGError(kind: .connection, message: "cannot configure session on \(endpoint): \(reason)")
            }
        }
        return PGConnection(handle: handle, queue: queue, endpoint: endpoint)
    }

    private static func describeEndpoint(_ handle: OpaquePointer) -> String {
        func field(_ value: UnsafeMutablePointer<CChar>?) -> String {
            guard let value else { return "" }
            return String(cString: value)
        }
        let database = field(PQdb(handle))
        let user = field(PQuser(handle))
        var host = field(PQhost(handle))
        let port = field(PQport(handle))
        if host.hasPrefix("/") { host = "socket \(host)" }
        return "database \"\(database)\" at \(host.isEmpty ? "localhost" : host):\(port) as \"\(user)\""
    }

    /// Closes the connection; later calls fail with `.connectionClosed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                if let handle = self.handle { PQfinish(handle) }
                self.handle = nil
                continuation.resume()
            }
        }
    }

    /// Runs `body` with the libpq handle on the connection's queue.
    func withHandle<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                guard let handle = self.handle else {
                    continuation.resume(throwing: PGError(kind: .connectionClosed, message: "connection to \(self.endpoint) is closed"))
                    return
                }
                continuation.resume(with: Result { try body(handle) })
            }
        }
    }

    /// Runs one statement with bound parameters (`$1`, `$2`, …). Parameters travel
    /// separately from the SQL text, so no input can change the statement.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PGEncodable)?] = []) async throws -> PGResult {
        let texts = try Self.encode(parameters)
        let endpoint = self.endpoint
        return try await withHandle { handle in
            try PGConnection.withCStrings(texts) { values in
                let result = PQexecParams(handle, sql, Int32(texts.count), nil, &values, nil, nil, 0)
                return try PGConnection.consume(result, handle: handle, endpoint: endpoint)
            }
        }
    }

    /// Parameter texts as the C strings libpq takes (NULL for SQL NULL), freed afterwards.
    static func withCStrings<T>(_ texts: [String?], _ body: (inout [UnsafePointer<CChar>?]) throws -> T) rethrows -> T {
        let pointers: [UnsafeMutablePointer<CChar>?] = texts.map { $0.map { strdup($0) } ?? nil }
        defer { pointers.forEach { free($0) } }
        var values: [UnsafePointer<CChar>?] = pointers.map { $0.map { UnsafePointer($0) } }
        return try body(&values)
    }

    static func encode(_ parameters: [(any PGEncodable)?]) throws -> [String?] {
        var encoded: [String?] = []
        encoded.reserveCapacity(parameters.count)
        for (offset, parameter) in parameters.enumerated() {
            encoded.append(try parameter.encodedParameter(index: offset + 1))
        }
        return encoded
    }

    /// Runs a script of one or more statements with no parameters (the simple query
    /// protocol). Used for migrations and definitions, never with input-derived text.
    public func execute(script: String) async throws {
        let endpoint = self.endpoint
        // PQexec returns the last statement's result; the first error stops the script
        // and is that result.
        _ = try await withHandle { handle in
            try PGConnection.consume(PQexec(handle, script), handle: handle, endpoint: endpoint)
        }
    }

    /// Escapes an identifier with libpq (`"my table"`), for the rare dynamic identifier.
    public func quoteIdentifier(_ identifier: String) async throws -> String {
        try await withHandle { handle in
            guard let quoted = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
                throw PGError(kind: .encoding, message: PGError.oneLine(String(cString: PQerrorMessage(handle))))
            }
            defer { PQfreemem(quoted) }
            return String(cString: quoted)
        }
    }

    /// Whether libpq still considers the connection usable.
    public var isOpen: Bool {
        get async {
            (try? await withHandle { PQstatus($0) == CONNECTION_OK }) ?? false
        }
    }

    /// Whether a connection that sat idle can still be used, asked without blocking: an idle
    /// connection hears nothing from the server unless its backend was terminated or the
    /// server went away (a FATAL notice, then end of file), so anything readable on its
    /// socket — or a status other than OK — means it is not.
    public func isUsableAfterIdle() async -> Bool {
        (try? await withHandle { handle in
            guard PQstatus(handle) == CONNECTION_OK else { return false }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            return poll(&descriptor, 1, 0) == 0
        }) ?? false
    }

    /// The server's backend process id (useful for `pg_terminate_backend` in tests).
    public func backendPID() async throws -> Int32 {
        try await withHandle { PQbackendPID($0) }
    }

    /// The error libpq reports without a result. A connection still in pipeline mode here
    /// is lost too, whatever its status says: a pipeline whose backend was terminated
    /// mid-stream could not leave pipeline mode (results it can never read), and every
    /// later call on it failed at once as "not allowed in pipeline mode" — which a
    /// scheduler lane took for a failed pass, every five seconds, and never reconnected.
    static func connectionError(_ handle: OpaquePointer, endpoint: String) -> PGError {
        let message = PGError.oneLine(String(cString: PQerrorMessage(handle)))
        if PQstatus(handle) != CONNECTION_OK {
            return lost(endpoint, message)
        }
        if PQpipelineStatus(handle) != PQ_PIPELINE_OFF {
            return PGError(kind: .connectionClosed, message: "connection to \(endpoint) unusable (stuck in pipeline mode): \(message)")
        }
        return PGError(kind: .server, message: message)
    }

    static func lost(_ endpoint: String, _ message: String) -> PGError {
        PGError(kind: .connectionClosed, message: "connection to \(endpoint) lost: \(message.isEmpty ? "no reason given" : message)")
    }

    /// Copies a `PGresult` into a `PGResult`, or turns an error result into a `PGError`.
    static func consume(_ result: OpaquePointer?, handle: OpaquePointer, endpoint: String) throws -> PGResult {
        guard let result else { throw connectionError(handle, endpoint: endpoint) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            let columnCount = Int(PQnfields(result))
            let rowCount = Int(PQntuples(result))
            var rows: [[String?]] = []
            rows.reserveCapacity(rowCount)
            for r in 0..<rowCount {
                rows.append(row(r, of: result, columnCount: columnCount))
            }
            let (tag, affected) = commandStatus(result)
            return PGResult(columns: columns(of: result), values: rows, affectedRows: affected, commandTag: tag)
        default:
            throw error(from: result, endpoint: endpoint)
        }
    }

    static func columns(of result: OpaquePointer) -> [PGResult.Column] {
        (0..<Int(PQnfields(result))).map {
            PGResult.Column(name: String(cString: PQfname(result, Int32($0))), typeOID: PQftype(result, Int32($0)))
        }
    }

    static func row(_ r: Int, of result: OpaquePointer, columnCount: Int) -> [String?] {
        var row: [String?] = []
        row.reserveCapacity(columnCount)
        for c in 0..<columnCount {
            if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                row.append(nil)
            } else {
                row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
            }
        }
        return row
    }

    static func commandStatus(_ result: OpaquePointer) -> (tag: String, affected: Int) {
        (String(cString: PQcmdStatus(result)), Int(String(cString: PQcmdTuples(result))) ?? 0)
    }

    /// The error an error result carries, with every field libpq gives. Every error the
    /// server sends has a SQLSTATE; a result without one is libpq's own report that the
    /// link failed ("server closed the connection unexpectedly" when a write meets a
    /// backend that is gone, before libpq has read the end of the stream and marked the
    /// connection bad), so it is a lost connection, not a refused statement.
    static func error(from result: OpaquePointer, endpoint: String) -> PGError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        guard let sqlState = field("C") else {
            let message = PGError.oneLine(String(cString: PQresultErrorMessage(result)))
            return lost(endpoint, message)
        }
        return PGError(
            kind: .server,
            message: field("M") ?? PGError.oneLine(String(cString: PQresultErrorMessage(result))),
            sqlState: sqlState,
            detail: field("D"),
            hint: field("H"),
            constraint: field("n"),
            table: field("t"),
            column: field("c"),
            position: field("P").flatMap { Int($0) },
            context: field("W")
        )
    }
}
