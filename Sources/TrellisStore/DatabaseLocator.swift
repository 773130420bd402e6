import Foundation

/// Decides which database a command talks to: `--database-url`, else
/// `TRELLIS_DATABASE_URL`, else the local cluster under `TRELLIS_HOME` (default
/// `./.trellis`), started when it is not running.
public struct DatabaseLocator: Sendable {
    public var explicitURL: String?
    public var environment: [String: String]
    public var workingDirectory: URL

    public init(explicitURL: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.explicitURL = explicitURL
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Where the local cluster lives.
    public var localHome: URL {
        if let home = environment["TRELLIS_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home, relativeTo: workingDirectory).standardizedFileURL
        }
        return workingDirectory.appending(path: ".trellis")
    }

    public var localCluster: LocalCluster { LocalCluster(directory: localHome) }

    /// The configured URL, if the user gave one (flag first, then environment).
    public var configuredURL: String? {
        if let explicitURL, !explicitURL.isEmpty { return explicitURL }
        if let url = environment["TRELLIS_DATABASE_URL"], !url.isEmpty { return url }
        return nil
    }

    /// The URL to use; `announce` is told when the local cluster had to be started.
    public func resolve(announce: (String) -> Void) async throws -> String {
        if let configuredURL { return configuredURL }
        let (url, started) = try await localCluster.start()
        if started {
            announce("started local PostgreSQL in \(localHome.path) (\(url)); stop it with `trellis db stop`")
        }
        return url
    }
}
