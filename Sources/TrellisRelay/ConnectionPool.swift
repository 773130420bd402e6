import Foundation
import TrellisPQ

/// A small pool of database connections shared by the relay's requests and streams.
/// Connections that failed at the transport level are dropped, not reused, so a database
/// restart heals itself on the next request.
public actor ConnectionPool {
    let url: String
    let capacity: Int
    private var idle: [PGConnection] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(url: String, capacity: Int = 8) {
        self.url = url
        self.capacity = max(1, capacity)
    }

    /// Runs `body` on a pooled connection. A deadlock victim or serialization failure
    /// (40P01/40001: the transaction was rolled back, nothing applied) is run once more.
    public func withConnection<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        do {
            return try await once(body)
        } catch let error as PGError where error.kind == .server && (error.sqlState == "40P01" || error.sqlState == "40001") {
            return try await once(body)
        }
    }

    private func once<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            release(connection, broken: false)
            return value
        } catch let error as PGError where error.kind == .connection || error.kind == .connectionClosed {
            release(connection, broken: true)
            throw error
        } catch {
            release(connection, broken: false)
            throw error
        }
    }

    private func acquire() async throws -> PGConnection {
        while true {
            if let connection = idle.popLast() { return connection }
            if open < capacity {
                open += 1
                do {
                    return try await PGConnection.connect(url, applicationName: "trellis-relay")
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    private func release(_ connection: PGConnection, broken: Bool) {
        if broken {
            open -= 1
            Task { await connection.close() }
        } else {
            idle.append(connection)
        }
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    public func close() async {
        for connection in idle { await connection.close() }
        open -= idle.count
        idle = []
    }
}
