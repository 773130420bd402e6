/// A run's status, as `workflow_runs.status` allows it (the CHECK constraint is the
/// source; `VocabularyTests` compares the two). Terminal runs have `finished_at` and
/// end their event streams.
public enum RunStatus: String, Sendable, CaseIterable, Codable {
    case queued, running, paused, waiting, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }

    /// The active statuses, in the order operators read them.
    public static let active: [RunStatus] = [.queued, .running, .paused, .waiting]
}
