/// Trellis's own SQLSTATEs (class TR), raised by the SQL functions and mapped once: to an
/// HTTP status and API code at the relay, to a one-line message in the CLI. Standard
/// SQLSTATEs (22023 bad value, 42501 not allowed, 23505 duplicate, 54000 too large) keep
/// their PostgreSQL meaning. `VocabularyTests` checks that every code raised under `sql/`
/// is a case here and every case is raised somewhere.
public enum TrellisErrorCode: String, Sendable, CaseIterable {
    /// An immutable row (published version, event) was updated or deleted.
    case immutableRow = "TR001"
    /// Workflow definition problems, one code each (docs/definitions.md).
    case malformedDefinition = "TR100"
    case unknownNodeKind = "TR101"
    case handlerMismatch = "TR102"
    case duplicateNodeKey = "TR103"
    case unknownEdgeEnd = "TR104"
    case cycle = "TR105"
    case unreachableNode = "TR106"
    case badBinding = "TR107"
    case badJSONPath = "TR108"
    case badTimeout = "TR109"
    case badRetryPolicy = "TR110"
    case incompleteCondition = "TR111"
    case badJoin = "TR112"
    case badNodeSettings = "TR113"
    case definitionTooLarge = "TR114"
    /// Template problems.
    case malformedTemplate = "TR120"
    case unknownTemplateParameter = "TR121"
    case missingTemplateParameter = "TR122"
    case wrongTemplateParameterType = "TR123"
    /// Unknown, revoked or expired token.
    case unauthenticated = "TR401"
    /// No such run, workflow, principal, template, approval or token.
    case notFound = "TR404"
    /// The state forbids it: finished run, decided approval, idempotency key reused.
    case conflict = "TR409"
    /// A feed cursor older than retention (its run was pruned): the client resets.
    case cursorExpired = "TR410"

    /// Codes of a definition or template the caller can fix (HTTP 400).
    public var isInvalidInput: Bool { rawValue.hasPrefix("TR1") }
}
