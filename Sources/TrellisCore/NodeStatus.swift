/// A node run's status, as `node_runs.status` allows it (`docs/execution.md` draws the
/// transitions; `VocabularyTests` compares the cases with the CHECK constraint).
public enum NodeStatus: String, Sendable, CaseIterable, Codable {
    case pending, ready, held, running, waiting, succeeded, failed, skipped, cancelled

    public var isTerminal: Bool { [.succeeded, .failed, .skipped, .cancelled].contains(self) }
}
