/// An approval's status, as `approvals.status` allows it (`VocabularyTests` compares).
public enum ApprovalStatus: String, Sendable, CaseIterable, Codable {
    case pending, approved, rejected, expired
}
