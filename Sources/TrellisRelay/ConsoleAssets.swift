import Hummingbird
import NIOCore

/// The console (`ui/`: plain HTML, CSS and JavaScript, no build step), embedded in the
/// binary like the SQL and served at `/ui/`. The files hold no secrets and need no token;
/// the page asks for one and sends it with every API call.
enum ConsoleAssets {
    static let files: [String: String] = Dictionary(uniqueKeysWithValues: EmbeddedAssets.files
        .filter { $0.path.hasPrefix("ui/") }
        .map { (String($0.path.dropFirst(3)), $0.contents) })

    static func register(on router: Router<RelayContext>) {
        // The router treats "/ui" and "/ui/" as one path: both get the page.
        router.get("/ui") { _, _ in try reply("index.html") }
        router.get("/ui/:file") { _, context in try reply(try context.parameters.require("file")) }
    }

    static func reply(_ name: String) throws -> Response {
        guard let contents = files[name] else { throw RelayError(.notFound, "not_found", "no console file \"\(name)\"") }
        var headers = HTTPFields()
        headers[.contentType] = contentType(name)
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: contents)))
    }

    static func contentType(_ name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        default: "application/octet-stream"
        }
    }
}
