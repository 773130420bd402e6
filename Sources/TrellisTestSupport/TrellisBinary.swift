import Foundation
import TrellisStore

/// Runs the built `trellis` executable, as a user would, for end-to-end CLI tests.
public enum TrellisBinary {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The binary next to the test bundle (both live in the build products directory).
    public static var url: URL {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return products.appending(path: "trellis")
    }

    /// Runs `trellis` with `arguments`. The test's `TRELLIS_*` variables are not inherited
    /// unless passed in `environment`, so a test controls which database the binary sees.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil, binary: URL? = nil
    ) throws -> Result {
        let stderrFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-stderr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: stderrFile) }
        let inherited = ProcessInfo.processInfo.environment.keys.filter { $0.hasPrefix("TRELLIS_") && environment[$0] == nil }
        let output = try ProcessRunner().run(
            binary ?? url, arguments, environment: environment, removing: Array(inherited),
            workingDirectory: workingDirectory, stderrFile: stderrFile)
        let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        return Result(status: output.status, stdout: output.output, stderr: stderr)
    }
}
