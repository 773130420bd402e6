import CLibPQ

/// The named prepared statements of one session, by SQL text.
struct PreparedStatements {
    var names: [String: String] = [:]
    /// A prepared statement's plan went stale in a way PostgreSQL will not re-plan (its
    /// result type changed: a function replaced by a migration): deallocate all, prepare again.
    var stale = false
}

extension PGConnection {
    /// Runs `sql` as a named prepared statement of this session, prepared on its first
    /// use: the hot scheduler calls are parsed and planned once per connection instead of
    /// on every call — an unnamed statement (`query`) cost about 0.2 ms more per call here
    /// (pgbench, the SQL of one DAG run: 15.0 ms extended, 13.3 ms prepared). Same
    /// parameters and results as `query`. A statement whose result type changed under it
    /// (SQLSTATE 0A000, after a migration replaced a function) is prepared again and run
    /// once more.
    @discardableResult
    public func queryPrepared(_ sql: String, _ parameters: [(any PGEncodable)?] = []) async throws -> PGResult {
        let texts = try Self.encode(parameters)
        let endpoint = self.endpoint
        return try await withHandle { handle in
            try PGConnection.withCStrings(texts) { values in
                for attempt in 1...2 {
                    let name = try self.preparedName(sql, parameterCount: texts.count, handle: handle)
                    do {
                        return try PGConnection.consume(PQexecPrepared(handle, name, Int32(texts.count), &values, nil, nil, 0),
                                                        handle: handle, endpoint: endpoint)
                    } catch let error as PGError where error.sqlState == "0A000" && attempt == 1 {
                        self.notePreparedFailure(error)
                    }
                }
                preconditionFailure("unreachable: the second attempt returns or throws")
            }
        }
    }

    /// The session's name for `sql`, prepared first when it is new. On the connection's
    /// queue, outside pipeline mode.
    func preparedName(_ sql: String, parameterCount: Int, handle: OpaquePointer) throws -> String {
        if prepared.stale {
            _ = try PGConnection.consume(PQexec(handle, "DEALLOCATE ALL"), handle: handle, endpoint: endpoint)
            prepared = PreparedStatements()
        }
        if let name = prepared.names[sql] { return name }
        let name = "trellis_\(prepared.names.count + 1)"
        _ = try PGConnection.consume(PQprepare(handle, name, sql, Int32(parameterCount), nil), handle: handle, endpoint: endpoint)
        prepared.names[sql] = name
        return name
    }

    /// Notes a failed prepared statement: one whose result type changed is prepared again
    /// on the next call.
    func notePreparedFailure(_ error: PGError) {
        if error.sqlState == "0A000" { prepared.stale = true }
    }
}
