import TrellisPQ

extension PGConnection {
    /// Runs a named query from the embedded catalogue with bound parameters.
    @discardableResult
    public func run(_ name: String, _ parameters: [(any PGEncodable)?] = [], catalogue: SQLCatalogue = .embedded) async throws -> PGResult {
        try await query(catalogue.query(name), parameters)
    }
}
