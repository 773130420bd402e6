import Dispatch
import Foundation
import TrellisCore
import TrellisStore

/// `shell`: runs `config.argv` (plus `input.args`, strings) directly — no shell, so no
/// interpolation — and returns `{"exit_code", "stdout", "stderr", "truncated"}` with each
/// stream capped at `config.max_output_bytes` (default 64 KiB). A non-zero exit is a
/// failure (retryable unless `config.retry_on_failure` is false). Registered only when
/// the scheduler runs with `--allow-shell`; cancellation (timeout, run cancelled) kills
/// the process.
public struct ShellHandler: NodeHandler {
    public let name = "shell"
    public init() {}

    public func run(_ context: NodeContext) async throws -> HandlerOutput {
        guard case .array(let argvValues)? = context.config["argv"], !argvValues.isEmpty,
              var argv = Optional(argvValues.compactMap(\.stringValue)), argv.count == argvValues.count
        else {
            throw HandlerError(code: "bad_config", message: "shell: config.argv must be a non-empty array of strings", retryable: false)
        }
        if case .array(let extra)? = context.input["args"] {
            let strings = extra.compactMap(\.stringValue)
            guard strings.count == extra.count else {
                throw HandlerError(code: "bad_input", message: "shell: input.args must be an array of strings", retryable: false)
            }
            argv += strings
        }
        let cap = Int(context.config["max_output_bytes"]?.doubleValue ?? 65_536)
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-shell-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdoutFile = directory.appending(path: "stdout"), stderrFile = directory.appending(path: "stderr")

        let pid: pid_t
        do {
            pid = try ProcessRunner.spawnBackground(argv, stdoutFile: stdoutFile, stderrFile: stderrFile)
        } catch {
            throw HandlerError(code: "spawn_failed", message: "shell: cannot start \(argv[0]): \(error)", retryable: false)
        }
        let status: Int32 = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: ProcessRunner.waitForExit(pid)) }
            }
        } onCancel: {
            kill(pid, SIGKILL)
        }
        try Task.checkCancellation()
        func read(_ url: URL) -> (String, Bool) {
            let data = (try? Data(contentsOf: url)) ?? Data()
            return (String(decoding: data.prefix(cap), as: UTF8.self), data.count > cap)
        }
        let (stdout, stdoutCut) = read(stdoutFile)
        let (stderr, stderrCut) = read(stderrFile)
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
