import CLibPQ
import Foundation

extension PGConnection {
    /// Runs one statement with bound parameters, keeping at most `maxRows` rows. libpq's
    /// single-row mode hands rows over one at a time, so rows past the cap are read and
    /// dropped, never held: memory stays bounded whatever the statement returns.
    public func query(_ sql: String, _ parameters: [(any PGEncodable)?] = [], maxRows: Int) async throws -> (result: PGResult, truncated: Bool) {
        let texts = try Self.encode(parameters)
        let endpoint = self.endpoint
        return try await withHandle { handle in
            let sent = PGConnection.withCStrings(texts) { values in
                PQsendQueryParams(handle, sql, Int32(texts.count), nil, &values, nil, nil, 0)
            }
            guard sent == 1 else {
                throw PGConnection.connectionError(handle, endpoint: endpoint)
            }
            _ = PQsetSingleRowMode(handle)
            var columns: [PGResult.Column]?
            var rows: [[String?]] = []
            var truncated = false
            var failure: PGError?
            var status: (tag: String, affected: Int) = ("", 0)
            // Every result must be read, even after an error, before the connection is idle again.
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                switch PQresultStatus(result) {
                case PGRES_SINGLE_TUPLE:
                    if columns == nil { columns = PGConnection.columns(of: result) }
                    if rows.count < maxRows {
                        rows.append(PGConnection.row(0, of: result, columnCount: Int(PQnfields(result))))
                    } else {
                        truncated = true
                    }
                case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                    if columns == nil { columns = PGConnection.columns(of: result) }
                    status = PGConnection.commandStatus(result)
                default:
                    if failure == nil { failure = PGConnection.error(from: result, endpoint: endpoint) }
                }
            }
            if let failure { throw failure }
            if PQstatus(handle) != CONNECTION_OK { throw PGConnection.connectionError(handle, endpoint: endpoint) }
            return (PGResult(columns: columns ?? [], values: rows, affectedRows: status.affected, commandTag: status.tag), truncated)
        }
    }
}
