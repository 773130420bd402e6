import Foundation
import TrellisCore

/// Returns its input as its output; reports `config.cost` as its cost (to stand in for
/// a paid call in examples).
public struct EchoHandler: NodeHandler {
    public let name = "echo"
    public init() {}
    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        HandlerOutput(context.input, cost: configuredCost(context))
    }
}

/// `config.cost` as an exact decimal (a number or a numeric string), if given.
func configuredCost(_ context: NodeContext) -> Decimal? {
    switch context.config["cost"] {
    case .number(let value)?: Decimal(string: String(value))
    case .string(let text)?: Decimal(string: text)
    default: nil
    }
}

/// Sleeps `config.ms` (or `input.ms`) milliseconds, then echoes its input. Cancellable.
/// `ms` may be an array: attempt N sleeps its Nth element (the last one repeats), which
/// lets a test make a first attempt hang and a retry finish. `steps: N` reports progress
/// N times along the way (node.progress events).
public struct SleepHandler: NodeHandler {
    public let name = "sleep"
    public init() {}
    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        let setting = context.config["ms"] ?? context.input["ms"]
        var ms = setting?.doubleValue ?? 100
        if case .array(let steps)? = setting, !steps.isEmpty {
            ms = steps[min(context.attempt, steps.count) - 1].doubleValue ?? 100
        }
        guard ms >= 0, ms <= 86_400_000 else {
            throw HandlerError(code: "invalid_config", message: "sleep: ms must be 0 to 86400000, got \(ms)", retryable: false)
        }
        guard let steps = (context.config["steps"] ?? .number(0)).integer(in: 0...100) else {
            throw HandlerError(code: "invalid_config", message: "sleep: steps must be a whole number from 0 to 100, got \(context.config["steps"].map { "\($0)" } ?? "nothing")", retryable: false)
        }
        if steps == 0 {
            try await Task.sleep(for: .milliseconds(Int64(ms)))
        } else {
            for step in 1...steps {
                try await Task.sleep(for: .milliseconds(Int64(ms / Double(steps))))
                await context.reporter.progress(Double(step * 100 / steps), "slept \(step) of \(steps) steps")
            }
        }
        return HandlerOutput(context.input, cost: configuredCost(context))
    }
}

/// Fails its first `config.times` attempts (default: every attempt) with a retryable
/// error, then echoes its input — for exercising retries.
public struct FailHandler: NodeHandler {
    public let name = "fail"
    public init() {}
    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        let times: Int
        switch context.config["times"] {
        case nil: times = Int.max
        case let value?:
            guard let count = value.integer(in: 0...1_000_000) else {
                throw HandlerError(code: "invalid_config", message: "fail: times must be a whole number from 0 to 1000000", retryable: false)
            }
            times = count
        }
        if context.attempt <= times {
            let message = context.config["message"]?.stringValue ?? "failing on purpose (attempt \(context.attempt))"
            throw HandlerError(code: "fail", message: message, retryable: true)
        }
        return HandlerOutput(context.input)
    }
}
