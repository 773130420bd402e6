import Logging
import ServiceLifecycle
import TrellisPQ
import TrellisStore

/// A running relay's schema check, a service beside the HTTP server in the application's
/// service group: it compares the database's schema with the binary's every `interval`
/// (every second until a first check went through, when the database did not answer at
/// start) and throws the refusal, which ends the group and so the relay — as a refused
/// start would have. A database that does not answer is tried again at the next tick.
/// It ends with the server (graceful shutdown or cancellation); with no interval it only
/// waits for that.
struct SchemaWatch: Service {
    let pool: ConnectionPool
    let interval: Duration?
    /// Whether the start-up check went through.
    let checked: Bool
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await watch() }
    }

    /// One check, the start-up one too: throws the refusal; returns why the database could
    /// not be asked (unreachable, busy), or nil when the schema is this binary's.
    static func check(_ pool: ConnectionPool) async throws -> (any Error)? {
        do {
            try await pool.withConnection { try await SchemaCompatibility.require($0) }
            return nil
        } catch let refusal as MigrationError {
            throw refusal
        } catch {
            return error
        }
    }

    private func watch() async throws {
        guard let interval else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3_600)) }
            return
        }
        var checked = checked
        while true {
            do {
                try await Task.sleep(for: checked ? interval : .seconds(1))
            } catch {
                return  // the server stopped
            }
            do {
                // Unreachable or busy: the next tick tries again.
                if try await Self.check(pool) == nil { checked = true }
            } catch {
                logger.critical("the database's schema is not this relay's: \(error); stopping")
                throw error
            }
        }
    }
}
