import Foundation
import TrellisPQ

/// Typed calls to the schedule SQL API (`sql/045_schedules`): documents come back as the
/// JSON the SQL functions build, shared by the CLI and the HTTP API.
public struct ScheduleStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// What a new schedule is: a workflow, a cron expression read in a time zone, the runs'
    /// input, and what to do with ticks missed while no scheduler ran.
    public struct Spec: Sendable {
        public var name: String
        public var workflow: String
        public var cron: String
        public var timezone = "UTC"
        public var input = "{}"
        public var catchUp = "one"
        public var catchUpMax = 10

        public init(name: String, workflow: String, cron: String) {
            self.name = name
            self.workflow = workflow
            self.cron = cron
        }
    }

    public func create(_ spec: Spec, as principal: String) async throws -> PGJSON {
        try await document(Query.Schedules.create, [spec.name, spec.workflow, spec.cron, spec.timezone, spec.input, spec.catchUp,
                                                    spec.catchUpMax, principal])
    }

    public func list(as principal: String) async throws -> PGJSON {
        try await document(Query.Schedules.list, [principal])
    }

    public func show(_ name: String, as principal: String) async throws -> PGJSON {
        try await document(Query.Schedules.show, [name, principal])
    }

    /// Pauses (false) or resumes (true); returns the schedule.
    public func setEnabled(_ name: String, _ enabled: Bool, as principal: String) async throws -> PGJSON {
        try await document(Query.Schedules.setEnabled, [name, enabled, principal])
    }

    public func delete(_ name: String, as principal: String) async throws {
        try await connection.run(Query.Schedules.delete, [name, principal])
    }

    public struct Fired: Sendable {
        public var runs: Int
        /// When the next enabled schedule is due; nil when none is.
        public var nextDue: Date?
    }

    /// Fires due schedules (scheduler instances call this); see trellis.fire_due_schedules.
    public func fireDue(max: Int = 10) async throws -> Fired {
        let row = try await connection.run(Query.Schedules.fireDue, [max]).single()
        return Fired(runs: try row.decode("fired"), nextDue: try row.decodeIfPresent("next_due"))
    }

    private func document(_ query: String, _ parameters: [(any PGEncodable)?]) async throws -> PGJSON {
        try await connection.run(query, parameters).single().decode("document")
    }
}
