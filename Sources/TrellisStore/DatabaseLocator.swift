import Foundation
import Synchronization

/// Decides which database a command talks to: `--database-url`, else
/// `TRELLIS_DATABASE_URL`, else the local cluster under `TRELLIS_HOME` (default
/// `./.trellis`, or `/var/lib/trellis/<checkout>` when root's checkout is private),
/// started when it is not running.
public struct DatabaseLocator: Sendable {
    public let explicitURL: String?
    public let environment: [String: String]
    public let workingDirectory: URL
    /// `localHome`, decided once: as root the decision spawns a probe as `postgres`, and
    /// a command asks for the home several times (start, then its messages).
    private let home = HomeCache()

    public init(explicitURL: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.explicitURL = explicitURL
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Where the local cluster lives: `TRELLIS_HOME`, else `./.trellis`. Run as root, the
    /// server runs as the `postgres` user, which cannot enter a private checkout (mode
    /// 700, like one in `/root`): then the cluster lives in `/var/lib/trellis/<checkout>`
    /// (the directory's name and a hash of its path), found again the same way by every
    /// later command from that checkout.
    public var localHome: URL {
        if let known = home.value.withLock({ $0 }) { return known }
        let decided = decideHome()
        home.value.withLock { $0 = decided }
        return decided
    }

    private func decideHome() -> URL {
        if let home = environment["TRELLIS_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home, relativeTo: workingDirectory).standardizedFileURL
        }
        let inCheckout = workingDirectory.appending(path: ".trellis")
        guard geteuid() == 0, !Self.serverCanEnter(workingDirectory) else { return inCheckout }
        return Self.privateCheckoutRoot.appending(path: Self.checkoutID(workingDirectory))
    }

    /// Where clusters of private checkouts live (root only).
    public static let privateCheckoutRoot = URL(fileURLWithPath: "/var/lib/trellis")

    /// `<directory name>-<first 12 hex digits of SHA-256 of its path>`.
    public static func checkoutID(_ directory: URL) -> String {
        let path = directory.standardizedFileURL.path
        let name = directory.lastPathComponent.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        return "\(name.isEmpty ? "checkout" : name)-\(sha256Hex(path).prefix(12))"
    }

    /// Whether the `postgres` user can enter `directory` (every parent traversable).
    static func serverCanEnter(_ directory: URL) -> Bool {
        guard getpwnam("postgres") != nil else { return true }  // no server user: nothing to decide here
        let probe = try? ProcessRunner(runAsUser: "postgres").run(URL(fileURLWithPath: "/usr/bin/test"), ["-x", directory.path])
        return probe?.status == 0
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

/// A reference box, so copies of one locator share the decided home.
private final class HomeCache: Sendable {
    let value = Mutex<URL?>(nil)
}
