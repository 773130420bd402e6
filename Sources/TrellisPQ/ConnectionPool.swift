import Foundation

/// A small pool of database connections shared by concurrent work (the relay's requests
/// and streams, a scheduler's handlers). Connections that failed at the transport level
/// are dropped, not reused, and an idle one is checked before it is handed out, so a
/// database restart or a terminated backend costs a reconnect, not a failed call.
public actor ConnectionPool {
    let url: String
    let capacity: Int
    let applicationName: String
    let settings: [String: String]
    /// How long `withConnection` waits for a free connection before throwing `Exhausted`.
    let wait: Duration
    private var idle: [PGConnection] = []
    private var open = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextWaiter = 0

    /// Every connection was busy for the whole wait.
    public struct Exhausted: Error, Sendable, CustomStringConvertible {
        public var capacity: Int
        public var description: String { "every one of the \(capacity) pooled database connections stayed busy" }
    }

    public init(url: String, capacity: Int = 8, wait: Duration = .seconds(5), applicationName: String = "trellis",
                settings: [String: String] = [:]) {
        self.url = url
        self.applicationName = applicationName
        self.settings = settings
        self.capacity = max(1, capacity)
        self.wait = wait
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
        } catch let error as PGError where error.isConnectionLoss {
            release(connection, broken: true)
            throw error
        } catch {
            release(connection, broken: false)
            throw error
        }
    }

    private func acquire() async throws -> PGConnection {
        while true {
            // A pooled connection whose backend was terminated while it sat idle (a
            // database restart, pg_terminate_backend, an idle timeout) is dropped here,
            // not handed to the caller to fail on: the call gets a fresh one.
            while let connection = idle.popLast() {
                if await connection.isUsableAfterIdle() { return connection }
                open -= 1
                Task { await connection.close() }
            }
            if open < capacity {
                open += 1
                do {
                    return try await PGConnection.connect(url, applicationName: applicationName, settings: settings)
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            let id = nextWaiter
            nextWaiter += 1
            let timer = Task { [wait] in
                try? await Task.sleep(for: wait)
                self.timeOut(id)
            }
            let woken = await withCheckedContinuation { waiters.append((id, $0)) }
            timer.cancel()
            guard woken else {
                throw Exhausted(capacity: capacity)
            }
        }
    }

    private func timeOut(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: false)
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
        if !waiters.isEmpty { waiters.removeFirst().continuation.resume(returning: true) }
    }

    public func close() async {
        for connection in idle { await connection.close() }
        open -= idle.count
        idle = []
    }
}
