import Foundation
import TrellisCore
import TrellisPQ

/// `sql`: runs `config.query` with `input.params` (or `config.params`) bound as $1, $2, …
/// and returns `{"rows": [...], "row_count": n}`. The query text is the workflow author's;
/// values from the run only ever travel as bound parameters. Connection and serialisation
/// failures are retryable; other SQL errors are not.
public final class SQLHandler: NodeHandler, @unchecked Sendable {
    public let name = "sql"
    private let databaseURL: String
    private let lock = NSLock()
    private var connection: PGConnection?

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    private func open() async throws -> PGConnection {
        if let existing = lock.withLock({ connection }), await existing.isOpen { return existing }
        let fresh = try await PGConnection.connect(databaseURL, applicationName: "trellis-sql-handler")
        lock.withLock { connection = fresh }
        return fresh
    }

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        guard let query = context.config["query"]?.stringValue, !query.isEmpty else {
            throw HandlerError(code: "invalid_config", message: "sql: config.query must be a non-empty string", retryable: false)
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
            case .number(let number): return number == number.rounded() && abs(number) < 9e15 ? Int64(number) : number
            case .array, .object: return try PGJSON(encoding: value)
            }
        }
        // One statement at a time on the handler's connection (a scheduler runs few sql nodes).
        let result: PGResult
        do {
            let connection = try await open()
            result = try await connection.query(query, parameters)
        } catch let error as PGError {
            let state = error.sqlState ?? ""
            let retryable = error.kind != .server || ["08", "40", "53", "57"].contains(String(state.prefix(2)))
            throw HandlerError(code: state.isEmpty ? "sql_connection" : "sql_\(state)", message: error.description, retryable: retryable)
        }
        let rows = result.rows.map { row -> JSONValue in
            var object: [String: JSONValue] = [:]
            for (index, column) in result.columns.enumerated() {
                object[column.name] = Self.json(row.values[index], typeOID: column.typeOID)
            }
            return .object(object)
        }
        return HandlerOutput(.object(["rows": .array(rows), "row_count": .number(Double(result.affectedRows == 0 ? rows.count : result.affectedRows))]))
    }

    /// A column's text as JSON by its type: booleans, numbers, json/jsonb as documents, else strings.
    static func json(_ text: String?, typeOID: UInt32) -> JSONValue {
        guard let text else { return .null }
        switch typeOID {
        case 16: return .bool(text == "t")
        case 20, 21, 23, 700, 701, 1700: return Double(text).map(JSONValue.number) ?? .string(text)
        case 114, 3802: return (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
        default: return .string(text)
        }
    }
}
