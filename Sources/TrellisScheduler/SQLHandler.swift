import Foundation
import Synchronization
import TrellisCore
import TrellisPQ

/// `sql`: runs `config.query` with `input.params` (or `config.params`) bound as $1, $2, …
/// and returns `{"rows": [...], "row_count": n, "truncated": bool}`. The query text is the
/// workflow author's; values from the run only ever travel as bound parameters.
///
/// Opt-in (`trellis scheduler --allow-sql`): it runs the author's SQL. Each node runs in
/// its own transaction on a pooled connection, with `statement_timeout` set to the node's
/// timeout (default 5 minutes); a timeout, run cancel or lost lease cancels the statement
/// on the server (PQcancel). Afterwards the session is reset (`DISCARD ALL`), so a node's
/// `SET ROLE`, temp tables or advisory locks never reach the next node; a connection that
/// cannot be reset is closed. At most `config.max_rows` rows are kept (default 1,000, at
/// most 100,000; rows past it are dropped while reading, and `truncated` is true).
/// Connection and serialisation failures are retryable; other SQL errors are not.
public final class SQLHandler: NodeHandler {
    public let name = "sql"
    public static let defaultMaxRows = 1_000
    public static let maxRowsLimit = 100_000
    public static let defaultTimeoutMilliseconds = 300_000
    /// Idle connections kept for reuse; more run at once when more nodes do.
    static let idleLimit = 8
    private let databaseURL: String
    private let idle = Mutex<[PGConnection]>([])

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    private func checkout() async throws -> PGConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if await connection.isOpen { return connection }
        }
        return try await connect()
    }

    private func connect() async throws -> PGConnection {
        try await PGConnection.connect(databaseURL, applicationName: "trellis-sql-handler")
    }

    private func checkin(_ connection: PGConnection) async {
        let kept = idle.withLock { pool in
            guard pool.count < Self.idleLimit else { return false }
            pool.append(connection)
            return true
        }
        if !kept { await connection.close() }
    }

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        guard let query = context.config["query"]?.stringValue, !query.isEmpty else {
            throw HandlerError(code: "invalid_config", message: "sql: config.query must be a non-empty string", retryable: false)
        }
        guard let maxRows = (context.config["max_rows"] ?? .number(Double(Self.defaultMaxRows))).integer(in: 1...Self.maxRowsLimit) else {
            throw HandlerError(code: "invalid_config", message: "sql: config.max_rows must be a whole number from 1 to \(Self.maxRowsLimit)", retryable: false)
        }
        let values: [JSONValue]
        switch context.input["params"] ?? context.config["params"] {
        case .array(let items)?: values = items
        case nil, .null?: values = []
        default: throw HandlerError(code: "bad_input", message: "sql: params must be an array", retryable: false)
        }
        let parameters: [(any PGEncodable)?] = try values.map { value in
            switch value {
            case .null: return nil
            case .string(let text): return text
            case .bool(let flag): return flag
            case .number(let number):
                if let whole = JSONValue.exactInteger(number) { return whole }
                return number
            case .array, .object: return try PGJSON(encoding: value)
            }
        }
        let timeout = context.timeoutMilliseconds ?? Self.defaultTimeoutMilliseconds

        var fresh: PGConnection
        do {
            fresh = try await checkout()
            do {
                try await fresh.query("BEGIN")
            } catch let error as PGError where error.isConnectionLoss {
                // A pooled connection the server closed while it sat idle (a restart):
                // nothing ran yet, so take a fresh one.
                await fresh.close()
                fresh = try await connect()
                try await fresh.query("BEGIN")
            }
        } catch let error as PGError {
            throw Self.failure(error)
        }
        let connection = fresh
        let outcome: Result<(result: PGResult, truncated: Bool), any Error>
        do {
            try await connection.query("SELECT set_config('statement_timeout', $1, true)", ["\(timeout)ms"])
            outcome = .success(try await withTaskCancellationHandler {
                try await connection.query(query, parameters, maxRows: maxRows)
            } onCancel: {
                connection.cancelRunningStatement()
            })
        } catch {
            outcome = .failure(error)
        }
        // End the node's transaction and reset the session; any trouble retires the connection.
        var commitFailure: PGError?
        do {
            if case .success = outcome, !Task.isCancelled {
                do {
                    try await connection.query("COMMIT")
                } catch let error as PGError {
                    commitFailure = error  // nothing was applied
                    try await connection.query("ROLLBACK")
                }
            } else {
                try await connection.query("ROLLBACK")
            }
            try await connection.query("DISCARD ALL")
            await checkin(connection)
        } catch {
            await connection.close()
        }
        if Task.isCancelled { throw CancellationError() }
        if let commitFailure { throw Self.failure(commitFailure) }
        let (result, truncated): (PGResult, Bool)
        do {
            (result, truncated) = try outcome.get()
        } catch let error as PGError {
            if error.sqlState == "57014" {
                throw HandlerError(code: "timeout", message: "sql: statement cancelled after the node's timeout of \(timeout) ms", retryable: true)
            }
            throw Self.failure(error)
        }
        let rows = result.rows.map { row -> JSONValue in
            var object: [String: JSONValue] = [:]
            for (index, column) in result.columns.enumerated() {
                object[column.name] = Self.json(row.values[index], typeOID: column.typeOID)
            }
            return .object(object)
        }
        return HandlerOutput(.object([
            "rows": .array(rows), "truncated": .bool(truncated),
            "row_count": .number(Double(result.affectedRows == 0 ? rows.count : result.affectedRows)),
        ]))
    }

    /// A SQL error as a handler failure: connection, serialisation and resource errors are
    /// worth retrying; the author's mistakes are not.
    static func failure(_ error: PGError) -> HandlerError {
        let state = error.sqlState ?? ""
        let retryable = error.kind != .server || ["08", "40", "53", "57"].contains(String(state.prefix(2)))
        return HandlerError(code: state.isEmpty ? "sql_connection" : "sql_\(state)", message: error.description, retryable: retryable)
    }

    /// A column's text as JSON by its type: booleans, finite numbers, json/jsonb as
    /// documents, else strings. NaN and Infinity (float or numeric) stay strings: JSON has
    /// no such numbers.
    static func json(_ text: String?, typeOID: UInt32) -> JSONValue {
        guard let text else { return .null }
        switch typeOID {
        case 16: return .bool(text == "t")
        case 20, 21, 23, 700, 701, 1700:
            guard let number = Double(text), number.isFinite else { return .string(text) }
            return .number(number)
        case 114, 3802: return (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
        default: return .string(text)
        }
    }
}
