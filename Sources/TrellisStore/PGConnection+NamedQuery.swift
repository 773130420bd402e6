import TrellisPQ

extension PGConnection {
    /// Runs a named query from the embedded catalogue with bound parameters.
    @discardableResult
    public func run(_ name: String, _ parameters: [(any PGEncodable)?] = [], catalogue: SQLCatalogue = .embedded) async throws -> PGResult {
        try await query(catalogue.query(name), parameters)
    }

    /// Runs a named query as a prepared statement of the session (`queryPrepared`): for
    /// the calls a scheduler makes on every pass.
    @discardableResult
    public func runPrepared(_ name: String, _ parameters: [(any PGEncodable)?] = [], catalogue: SQLCatalogue = .embedded) async throws -> PGResult {
        try await queryPrepared(catalogue.query(name), parameters)
    }
}
