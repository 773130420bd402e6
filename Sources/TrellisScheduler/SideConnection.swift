import TrellisPQ

/// The scheduler's second database connection, for reporting large batches while the
/// main connection claims. Opened on first use; dropped after a connection error and
/// opened again on the next use. When it cannot be opened the scheduler reports on its
/// main connection as before (`open()` returns nil).
actor SideConnection {
    private let connect: @Sendable () async throws -> PGConnection
    private var connection: PGConnection?

    init(_ connect: @escaping @Sendable () async throws -> PGConnection) {
        self.connect = connect
    }

    func open() async -> PGConnection? {
        if let connection { return connection }
        connection = try? await connect()
        return connection
    }

    func drop() async {
        await connection?.close()
        connection = nil
    }
}
