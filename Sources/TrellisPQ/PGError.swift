import Foundation

/// An error from the PostgreSQL client: a stable `kind`, and for server errors the
/// SQLSTATE and the diagnostic fields PostgreSQL sent. `description` is one line, fit
/// for a CLI's stderr; it never contains a password.
public struct PGError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Could not connect (server down, bad credentials, unknown database).
        case connection
        /// The connection was lost or closed while in use.
        case connectionClosed
        /// The server rejected a statement; `sqlState` says why.
        case server
        /// A parameter could not be sent (e.g. a string containing a NUL byte).
        case encoding
        /// A column value could not be decoded into the requested Swift type.
        case decoding
        /// A wait (e.g. for a notification) was cancelled.
        case cancelled
    }

    public var kind: Kind
    public var message: String
    /// Five-character SQLSTATE, e.g. `23505` for a unique violation.
    public var sqlState: String?
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    /// 1-based character position in the statement, when the server reports one.
    public var position: Int?
    /// The `CONTEXT` field: which function or line raised it.
    public var context: String?

    public init(
        kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, table: String? = nil,
        column: String? = nil, position: Int? = nil, context: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.position = position
        self.context = context
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "; \(detail)" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        return PGError.oneLine(text)
    }

    /// Collapses libpq's multi-line messages into one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}

/// Well-known SQLSTATEs that callers branch on.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let checkViolation = "23514"
    public static let notNullViolation = "23502"
    public static let syntaxError = "42601"
    public static let undefinedTable = "42P01"
    public static let undefinedFunction = "42883"
    public static let invalidTextRepresentation = "22P02"
    public static let raiseException = "P0001"
    public static let lockNotAvailable = "55P03"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let queryCanceled = "57014"
}

extension PGError {
    /// The connection is gone, whatever form the news took: libpq could not connect or
    /// lost the link, or the server ended the session — terminated by an administrator
    /// or a shutdown (57P01), a crash of another backend (57P02), not accepting
    /// connections yet (57P03), an idle session timed out (57P05), or any connection
    /// exception (class 08). Nothing more can be sent on it; a pool drops it, and an
    /// idempotent call may be sent again on a fresh one. A backend terminated under a call
    /// reports either 57P01 or, when a write fails first, libpq's own error: both must read
    /// the same.
    public var isConnectionLoss: Bool {
        switch kind {
        case .connection, .connectionClosed: return true
        case .server:
            guard let state = sqlState else { return false }
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "57P05"].contains(state)
        case .encoding, .decoding, .cancelled: return false
        }
    }

    /// A failure that says nothing about the statement itself — a deadlock victim, a
    /// serialization conflict, a lock or statement timeout — so the same transaction may
    /// simply be tried again.
    public var isTransient: Bool {
        guard kind == .server, let state = sqlState else { return false }
        return [SQLState.deadlockDetected, SQLState.serializationFailure, SQLState.lockNotAvailable, SQLState.queryCanceled]
            .contains(state)
    }
}

