import Foundation
import TrellisCore

/// What a handler is given for one attempt of one node.
public struct NodeContext: Sendable {
    public var nodeRunID: Int64
    public var runID: UUID
    public var nodeKey: String
    /// 1 on the first try; also the fencing token the scheduler reports with.
    public var attempt: Int
    public var input: JSONValue
    public var config: JSONValue
    /// Stable across retries of the same node (and item): hand it to external systems
    /// so a repeated call after a crash is recognised (at-least-once, made safe).
    public var idempotencyKey: String
    public var itemIndex: Int?
    /// The node's timeout, when it has one: the scheduler cancels the handler then; a
    /// handler that talks to a server can pass it on (the `sql` handler's statement_timeout).
    public var timeoutMilliseconds: Int?
    /// Progress and log lines for watchers (events node.progress / node.log); they are
    /// sent with the scheduler's next round trip, before the attempt's result.
    public var reporter: ProgressReporter = .discard
    /// Reads the artifacts the run references and stores new ones as the node's outputs.
    public var artifacts: NodeArtifacts = .unavailable
    /// Set when an earlier attempt of this node threw `NodeNeedsInput`: its `resume`
    /// value, plus `answer` (the approving comment) and `answered_by` once a person answered.
    public var resume: JSONValue? = nil
}

/// Thrown by a handler that cannot go on without a person's answer (an agent's task is
/// input-required): the attempt ends `input_required`, the node waits on an approval of
/// kind `input` showing `prompt`, and once someone approves it with a comment the node
/// runs again with `context.resume` = `resume` + `{"answer": comment, "answered_by": name}`.
/// A rejection (or expiry) fails the node without retries. Attempts that asked do not count
/// against the retry budget.
public struct NodeNeedsInput: Error, Sendable, CustomStringConvertible {
    public var prompt: String
    public var resume: JSONValue
    /// Spent before asking (a model call, say): recorded on the attempt.
    public var cost: Decimal?

    public init(prompt: String, resume: JSONValue, cost: Decimal? = nil) {
        self.prompt = prompt
        self.resume = resume
        self.cost = cost
    }

    public var description: String { "input required: \(prompt)" }
}

/// How a handler tells watchers what it is doing. Cheap to call: updates are queued and
/// sent in batches by the scheduler.
public struct ProgressReporter: Sendable {
    let send: @Sendable (_ kind: String, _ percent: Double?, _ text: String, _ logKind: String?) async -> Void

    public init(_ send: @escaping @Sendable (_ kind: String, _ percent: Double?, _ text: String, _ logKind: String?) async -> Void) {
        self.send = send
    }

    /// Drops everything (handlers run outside a scheduler, e.g. in tests).
    public static let discard = ProgressReporter { _, _, _, _ in }

    /// `percent` 0–100 when known.
    public func progress(_ percent: Double?, _ message: String) async {
        await send("progress", percent.map { min(100, max(0, $0)) }, message, nil)
    }

    /// `kind`: agent_message, tool_call, thinking or log.
    public func log(_ body: String, kind: String = "log") async {
        await send("log", nil, body, kind)
    }
}

/// A handler's successful result.
public struct HandlerOutput: Sendable {
    public var output: JSONValue
    public var cost: Decimal?
    /// Model tokens the call used (prompt and completion), stored on the attempt and
    /// summed in the history views.
    public var tokensIn: Int?
    public var tokensOut: Int?

    public init(_ output: JSONValue, cost: Decimal? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil) {
        self.output = output
        self.cost = cost
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
    }
}

/// A handler's failure: `code` and `message` are stored with the attempt; `retryable`
/// false skips the remaining attempts.
public struct HandlerError: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var retryable: Bool
    /// The next attempt waits at least this long (a server's Retry-After), beyond the
    /// node's backoff; at most an hour.
    public var retryAfter: Duration?

    public init(code: String, message: String, retryable: Bool = true, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }

    /// What a network call's failure means for the attempt: cancellation (timeout, run
    /// cancel, lost lease) stays cancellation, a handler error passes through, and anything
    /// else is a retryable `code` saying `what` failed and why.
    public static func transport(_ error: any Error, code: String, _ what: String) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        if let error = error as? HandlerError { return error }
        return HandlerError(code: code, message: "\(what): \(error.localizedDescription)")
    }
}

/// Work a scheduler runs for `agent_call`, `tool_call` and `parallel` nodes whose
/// `handler` is this handler's name. Handlers must honour task cancellation (timeouts,
/// run cancellation, shutdown) and may run again for the same node after a crash.
public protocol NodeHandler: Sendable {
    var name: String { get }
    func run(_ context: NodeContext) async throws -> HandlerOutput
}

/// The handlers a scheduler serves, by name.
public struct HandlerRegistry: Sendable {
    private var handlers: [String: any NodeHandler] = [:]

    public init(_ handlers: [any NodeHandler] = []) {
        for handler in handlers { register(handler) }
    }

    public mutating func register(_ handler: any NodeHandler) {
        handlers[handler.name] = handler
    }

    public func handler(named name: String) -> (any NodeHandler)? { handlers[name] }
    public var names: [String] { handlers.keys.sorted() }

    /// `echo`, `sleep` and `fail`.
    public static var builtIn: HandlerRegistry {
        HandlerRegistry([EchoHandler(), SleepHandler(), FailHandler()])
    }

    /// The built-ins plus `http`, `a2a` and `llm` (with the credentials and prices of `llm`), and —
    /// only when allowed, since they reach outside the scheduler — `sql` (on
    /// `sqlDatabaseURL`) and `shell`.
    public static func standard(allowSQL sqlDatabaseURL: String? = nil, allowShell: Bool = false,
                                llm: LLMConfiguration = LLMConfiguration()) -> HandlerRegistry {
        var registry = builtIn
        registry.register(HTTPHandler())
        registry.register(LLMHandler(configuration: llm))
        registry.register(A2AHandler(configuration: llm))
        if let sqlDatabaseURL { registry.register(SQLHandler(databaseURL: sqlDatabaseURL)) }
        if allowShell { registry.register(ShellHandler()) }
        return registry
    }
}
