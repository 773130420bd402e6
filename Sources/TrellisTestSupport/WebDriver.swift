import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TrellisCore
import TrellisStore

/// A headless Chromium driven over the W3C WebDriver protocol (Debian's `chromium` and
/// `chromium-driver`, installed by scripts/install-deps.sh): chromedriver runs as a child
/// process on a free port, and the test talks JSON over HTTP to it — navigate, run a
/// script in the page, take a screenshot.
public final class WebDriver: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    let driver: pid_t
    let log: URL
    let base: String
    let session: String

    public static var chromedriver: String? {
        ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    public static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public init(width: Int = 1400, height: Int = 1000) async throws {
        guard let chromedriver = Self.chromedriver, let chromium = Self.chromium else {
            throw Failure(description: "chromium and chromedriver are not installed: run scripts/install-deps.sh (make test does)")
        }
        let port = try LocalCluster.freePort()
        log = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "chromedriver-\(port).log")
        driver = try ProcessRunner.spawnBackground([chromedriver, "--port=\(port)"], stderrFile: log)
        base = "http://127.0.0.1:\(port)"
        // chromedriver answers /status once it listens.
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? await Self.call("GET", "http://127.0.0.1:\(port)/status", nil)) == nil {
            if ContinuousClock.now > deadline { throw Failure(description: "chromedriver did not start on port \(port)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let capabilities: JSONValue = .object(["capabilities": .object(["alwaysMatch": .object([
            "browserName": .string("chrome"),
            "goog:chromeOptions": .object([
                "binary": .string(chromium),
                "args": .array(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--window-size=\(width),\(height)"].map(JSONValue.string)),
            ]),
        ])])])
        let created = try await Self.call("POST", "\(base)/session", capabilities)
        guard let id = created["sessionId"]?.stringValue else { throw Failure(description: "no session: \(created)") }
        session = id
    }

    /// Ends the browser and the driver.
    public func quit() async {
        _ = try? await Self.call("DELETE", "\(base)/session/\(session)", nil)
        kill(driver, SIGKILL)
        _ = ProcessRunner.waitForExit(driver)
        try? FileManager.default.removeItem(at: log)
    }

    public func open(_ url: String) async throws {
        _ = try await Self.call("POST", "\(base)/session/\(session)/url", .object(["url": .string(url)]))
    }

    /// Runs `script` (a function body; `arguments[i]` are `arguments`) in the page and
    /// returns what it returns.
    @discardableResult
    public func run(_ script: String, _ arguments: [JSONValue] = []) async throws -> JSONValue {
        try await Self.call("POST", "\(base)/session/\(session)/execute/sync",
                            .object(["script": .string(script), "args": .array(arguments)]))
    }

    /// Waits until `script` returns true in the page.
    public func wait(timeout: Duration = .seconds(30), _ what: String, until script: String, _ arguments: [JSONValue] = []) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: JSONValue = .null
        while true {
            last = (try? await run(script, arguments)) ?? .null
            if last == .bool(true) { return }
            if ContinuousClock.now > deadline {
                let page = (try? await run("return document.getElementById('view') ? document.getElementById('view').innerText.slice(0, 600) : document.body.innerText.slice(0, 600)")) ?? .null
                throw Failure(description: "\(what): not within \(timeout) (last \(last)); page: \(page.stringValue ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A PNG of the window, written to `file`.
    public func screenshot(to file: URL) async throws {
        let value = try await Self.call("GET", "\(base)/session/\(session)/screenshot", nil)
        guard let text = value.stringValue, let data = Data(base64Encoded: text) else { throw Failure(description: "no screenshot") }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }

    /// One WebDriver call; returns its `value`, or throws its error. Plain HTTP/1.1 over a
    /// socket: chromedriver writes headers without a space after the colon, which
    /// Foundation's URLSession on Linux refuses ("Failed writing header").
    static func call(_ method: String, _ url: String, _ body: JSONValue?) async throws -> JSONValue {
        guard let parsed = URL(string: url), let port = parsed.port else { throw Failure(description: "bad URL \(url)") }
        let payload = try body.map { try JSONEncoder().encode($0) } ?? Data()
        let request = "\(method) \(parsed.path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
        // A thread of its own: a blocking socket must not hold one of the few threads the
        // concurrency pool (and the in-process relay under test) runs on.
        let message = Data(request.utf8) + payload
        let reply: Data = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try Self.exchange(port: port, message) })
            }
        }
        guard let split = reply.range(of: Data("\r\n\r\n".utf8)) else { throw Failure(description: "no HTTP reply from \(url)") }
        let value = try JSONDecoder().decode(JSONValue.self, from: reply[split.upperBound...])["value"] ?? .null
        if let error = value["error"]?.stringValue {
            throw Failure(description: "WebDriver \(method) \(url): \(error): \(value["message"]?.stringValue ?? "")")
        }
        return value
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the reply: headers, then
    /// Content-Length bytes of body (chromedriver keeps the connection open).
    static func exchange(port: Int, _ request: Data) throws -> Data {
        let fd = try LoopbackSocket.connect(port: port, receiveTimeout: 120)
        defer { close(fd) }
        try LoopbackSocket.sendAll(fd, [UInt8](request))
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if let end = reply.range(of: Data("\r\n\r\n".utf8)) {
                let head = String(decoding: reply[..<end.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                if let length, reply.count - end.upperBound >= length { return reply }
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        return reply
    }
}
