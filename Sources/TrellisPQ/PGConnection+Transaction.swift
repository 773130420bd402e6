extension PGConnection {
    /// Runs `body` inside `BEGIN … COMMIT`; any thrown error rolls back and is rethrown.
    /// A failed rollback (e.g. the connection died) does not mask the original error.
    @discardableResult
    public func withTransaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        try await execute(script: "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        let value: T
        do {
            value = try await body(self)
        } catch {
            try? await execute(script: "ROLLBACK")
            throw error
        }
        do {
            try await execute(script: "COMMIT")
        } catch {
            try? await execute(script: "ROLLBACK")
            throw error
        }
        return value
    }

    /// Runs `body` inside a savepoint of the current transaction, rolling back to it on
    /// error, so one failed step does not abort the surrounding transaction.
    @discardableResult
    public func withSavepoint<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws -> T {
        try await execute(script: "SAVEPOINT trellis_savepoint")
        do {
            let value = try await body(self)
            try await execute(script: "RELEASE SAVEPOINT trellis_savepoint")
            return value
        } catch {
            try? await execute(script: "ROLLBACK TO SAVEPOINT trellis_savepoint; RELEASE SAVEPOINT trellis_savepoint")
            throw error
        }
    }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }
}

extension PGConnection {
    /// Opens a connection, runs `body` with it, and closes it whether `body` returns or throws.
    @discardableResult
    public static func withConnection<T: Sendable>(_ conninfo: String, _ body: (PGConnection) async throws -> T) async throws -> T {
        let connection = try await connect(conninfo)
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }
}
