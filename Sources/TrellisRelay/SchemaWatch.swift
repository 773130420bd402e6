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
                try await pool.withConnection { try await SchemaCompatibility.require($0) }
                checked = true
            } catch let refusal as MigrationError {
                logger.critical("the database's schema is not this relay's: \(refusal); stopping")
                throw refusal
            } catch {
                // Unreachable or busy: the next tick tries again.
            }
        }
    }
}
