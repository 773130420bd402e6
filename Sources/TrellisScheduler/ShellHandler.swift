import Dispatch
import Foundation
import TrellisCore
import TrellisStore

/// `shell`: runs `config.argv` (plus `input.args`, strings) directly — no shell, so no
/// interpolation — and returns `{"exit_code", "stdout", "stderr", "truncated"}` with each
/// stream capped at `config.max_output_bytes` (default 64 KiB). A non-zero exit is a
/// failure (retryable unless `config.retry_on_failure` is false). Registered only when
/// the scheduler runs with `--allow-shell`. The program runs in its own process group;
/// cancellation (timeout, run cancelled, lost lease) kills the whole group.
public struct ShellHandler: NodeHandler {
    public let name = "shell"
    /// The largest `config.max_output_bytes` accepted, per stream.
    public static let maxOutputBytes = 4 << 20
    public init() {}

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        guard case .array(let argvValues)? = context.config["argv"], !argvValues.isEmpty,
              var argv = Optional(argvValues.compactMap(\.stringValue)), argv.count == argvValues.count
        else {
            throw HandlerError(code: "invalid_config", message: "shell: config.argv must be a non-empty array of strings", retryable: false)
        }
        if case .array(let extra)? = context.input["args"] {
            let strings = extra.compactMap(\.stringValue)
            guard strings.count == extra.count else {
                throw HandlerError(code: "bad_input", message: "shell: input.args must be an array of strings", retryable: false)
            }
            argv += strings
        }
        guard let cap = (context.config["max_output_bytes"] ?? .number(65_536)).integer(in: 0...Self.maxOutputBytes) else {
            throw HandlerError(code: "invalid_config", message: "shell: max_output_bytes must be a whole number from 0 to \(Self.maxOutputBytes)", retryable: false)
        }
        let child = try ChildProcess.start(argv)
        let result: ChildProcess.Result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: child.finish(cap: cap)) }
            }
        } onCancel: {
            child.kill()
        }
        try Task.checkCancellation()
        let status = result.status
        let stdout = String(decoding: result.stdout, as: UTF8.self), stderr = String(decoding: result.stderr, as: UTF8.self)
        let stdoutCut = result.stdoutCut, stderrCut = result.stderrCut
        let output: JSONValue = .object([
            "exit_code": .number(Double(status)), "stdout": .string(stdout), "stderr": .string(stderr),
            "truncated": .bool(stdoutCut || stderrCut),
        ])
        guard status == 0 else {
            let firstLine = stderr.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            throw HandlerError(code: "exit_\(status)", message: "\(argv[0]) exited with \(status)\(firstLine.isEmpty ? "" : ": \(firstLine)")",
                               retryable: context.config["retry_on_failure"] != .bool(false))
        }
        return HandlerOutput(output)
    }
}
