import Foundation
import TrellisPQ

/// The fleet's health as one document (trellis.fleet_status): schedulers, queue, runs,
/// approvals, the last hour, and the problems to look at first. Administrators only.
public struct FleetStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// The status document (JSON). A scheduler is stale when its last heartbeat is older
    /// than `staleAfterSeconds`.
    public func status(as principal: String, staleAfterSeconds: Double = 60) async throws -> PGJSON {
        try await connection.run(Query.Operations.fleetStatus, [principal, staleAfterSeconds]).single().decode("status")
    }
}
