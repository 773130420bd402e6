import CLibPQ

extension PGConnection {
    /// One statement of a pipeline: SQL text and its bound parameters.
    public struct Statement: Sendable {
        public var sql: String
        public var parameters: [(any PGEncodable)?]
        /// Sent as a named prepared statement of the session (`queryPrepared`).
        public var prepared: Bool
        public init(_ sql: String, _ parameters: [(any PGEncodable)?] = [], prepared: Bool = false) {
            self.sql = sql
            self.parameters = parameters
            self.prepared = prepared
        }
    }

    /// Sends `statements` in one round trip (libpq pipeline mode) and runs them as one
    /// transaction: they commit together at the end, with one WAL flush. The first
    /// statement that fails aborts the transaction — nothing of the pipeline is kept — and
    /// its error is thrown. Statements go out in order and results are read after the
    /// last one is sent, so only the last should return a large result.
    /// A prepared statement whose result type changed under it (SQLSTATE 0A000, see
    /// `queryPrepared`) aborts the pipeline before anything is kept; it is sent once more,
    /// prepared again.
    public func pipeline(_ statements: [Statement]) async throws -> [PGResult] {
        do {
            return try await pipelineOnce(statements)
        } catch let error as PGError where error.sqlState == "0A000" && statements.contains(where: \.prepared) {
            return try await pipelineOnce(statements)
        }
    }

    private func pipelineOnce(_ statements: [Statement]) async throws -> [PGResult] {
        let encoded = try statements.map { ($0.sql, try Self.encode($0.parameters), $0.prepared) }
        let endpoint = self.endpoint
        return try await withHandle { handle in
            // Statements new to the session are prepared first (a round trip each, once).
            let names = try encoded.map { sql, texts, prepared in
                prepared ? try self.preparedName(sql, parameterCount: texts.count, handle: handle) : nil
            }
            guard PQenterPipelineMode(handle) == 1 else { throw PGConnection.connectionError(handle, endpoint: endpoint) }
            // Leaving pipeline mode needs every result read; on a broken connection the
            // handle is discarded by its owner anyway.
            defer { _ = PQexitPipelineMode(handle) }
            for ((sql, texts, _), name) in zip(encoded, names) {
                let sent = PGConnection.withCStrings(texts) { values in
                    if let name {
                        PQsendQueryPrepared(handle, name, Int32(texts.count), &values, nil, nil, 0)
                    } else {
                        PQsendQueryParams(handle, sql, Int32(texts.count), nil, &values, nil, nil, 0)
                    }
                }
                guard sent == 1 else { throw PGConnection.connectionError(handle, endpoint: endpoint) }
            }
            guard PQpipelineSync(handle) == 1 else { throw PGConnection.connectionError(handle, endpoint: endpoint) }
            var results: [PGResult] = []
            var failure: PGError?
            for _ in encoded {
                // Each statement's result, then a NULL that ends it.
                guard let result = PQgetResult(handle) else { throw PGConnection.connectionError(handle, endpoint: endpoint) }
                if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                    PQclear(result)
                } else {
                    do {
                        results.append(try PGConnection.consume(result, handle: handle, endpoint: endpoint))
                    } catch let error as PGError {
                        if error.kind != .server { throw error }
                        self.notePreparedFailure(error)
                        failure = failure ?? error
                    }
                }
                while let extra = PQgetResult(handle) { PQclear(extra) }
            }
            // The sync point: the transaction has committed (or rolled back) here.
            guard let sync = PQgetResult(handle) else { throw PGConnection.connectionError(handle, endpoint: endpoint) }
            let status = PQresultStatus(sync)
            PQclear(sync)
            guard status == PGRES_PIPELINE_SYNC else { throw PGConnection.connectionError(handle, endpoint: endpoint) }
            if let failure { throw failure }
            return results
        }
    }
}
