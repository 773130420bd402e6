import Foundation
import Hummingbird
import NIOCore
import TrellisCore
import TrellisPQ
import TrellisStore

/// The HTTP API for artifacts: uploads stream into the database a chunk at a time (413
/// past `maxArtifactBytes`, nothing stored), downloads stream out a chunk at a time with
/// ETag (the SHA-256), Content-Length and single byte ranges — the relay never holds a
/// whole file. Reading follows the runs that reference an artifact (trellis.may_read_artifact).
struct ArtifactAPI: Sendable {
    let relay: Relay

    func register(on api: RouterGroup<RelayContext>) {
        let pool = relay.pool
        let maxBytes = relay.options.maxArtifactBytes

        // The body is the file; ?name= names it, Content-Type is its media type.
        api.post("artifacts") { request, context in
            let actor = try context.who
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBytes {
                throw RelayError(.contentTooLarge, "too_large", "artifact is \(length) bytes, over the limit of \(maxBytes)")
            }
            let name = request.uri.queryParameters.get("name") ?? ""
            let mediaType = request.headers[.contentType].map { String($0.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces) }
                ?? "application/octet-stream"
            let parts = request.body.map { Array($0.readableBytesView) }
            do {
                let uploaded = try await pool.withConnection {
                    try await ArtifactStore(connection: $0).upload(parts, name: name, mediaType: mediaType, maxBytes: maxBytes, as: actor)
                }
                return HTTPReply.json(uploaded.document.text, status: uploaded.created ? .created : .ok)
            } catch is ArtifactStore.TooLarge {
                throw RelayError(.contentTooLarge, "too_large", "artifact is over the limit of \(maxBytes) bytes; nothing was stored")
            }
        }

        api.get("artifacts") { request, context in
            let limit = try RequestInput.integer(request.uri.queryParameters.get("limit"), "limit") ?? 100
            let actor = try context.who
            let list = try await pool.withConnection { try await ArtifactStore(connection: $0).list(as: actor, limit: limit) }
            return HTTPReply.json(#"{"artifacts": \#(list.text)}"#)
        }

        api.get("artifacts/:id/meta") { _, context in
            let id = try context.parameters.require("id")
            let actor = try context.who
            return HTTPReply.json(try await pool.withConnection { try await ArtifactStore(connection: $0).show(id, as: actor) }.text)
        }

        api.get("artifacts/:id") { request, context in
            try await Self.download(try context.parameters.require("id"), as: try context.who, request: request, pool: pool)
        }
    }

    /// Streams a readable artifact (TR404 / 42501 first, as JSON errors): ETag, 304 on
    /// If-None-Match, one byte range (206, or 416 past the end).
    static func download(_ id: String, as actor: String, request: Request, pool: ConnectionPool) async throws -> Response {
        let head = try await pool.withConnection { try await ArtifactStore(connection: $0).head(id, as: actor) }
        let etag = "\"\(head.sha256)\""
        var headers: HTTPFields = [.eTag: etag, .acceptRanges: "bytes", .contentType: head.mediaType,
                                   .cacheControl: "private, max-age=31536000, immutable"]
        if !head.name.isEmpty, let quoted = head.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            headers[.contentDisposition] = "attachment; filename*=UTF-8''\(quoted)"
        }
        if request.headers[.ifNoneMatch] == etag {
            return Response(status: .notModified, headers: headers)
        }
        var range = 0..<head.size
        var status = HTTPResponse.Status.ok
        if let spec = request.headers[.range] {
            switch ByteRange.parse(spec, size: head.size) {
            case .whole: break
            case .part(let part):
                range = part
                status = .partialContent
                headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(head.size)"
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(head.size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
        }
        headers[.contentLength] = String(range.count)
        let chunkSize = head.chunkSize
        let bytes = range
        let body = ResponseBody(contentLength: bytes.count) { writer in
            guard !bytes.isEmpty else {
                try await writer.finish(nil)
                return
            }
            // One chunk per query, each on a connection taken for that query only: a
            // slow client holds no database connection between chunks.
            for index in (bytes.lowerBound / chunkSize)...((bytes.upperBound - 1) / chunkSize) {
                let chunk = try await pool.withConnection {
                    try await ArtifactStore(connection: $0).chunks(head.sha256, as: actor, first: index, last: index)
                }.first ?? Data()
                let start = index * chunkSize
                let from = max(bytes.lowerBound - start, 0), to = min(bytes.upperBound - start, chunk.count)
                guard from < to else { continue }
                try await writer.write(ByteBuffer(bytes: chunk[chunk.startIndex + from ..< chunk.startIndex + to]))
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }
}

/// One `Range: bytes=…` request header against a resource of `size` bytes. Several
/// ranges, or another unit, are answered with the whole resource (which HTTP allows).
enum ByteRange: Equatable {
    case whole
    case part(Range<Int>)
    case unsatisfiable

    static func parse(_ header: String, size: Int) -> ByteRange {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
        guard spec.count == 2 else { return .whole }
        if spec[0].isEmpty {
            guard let suffix = Int(spec[1]), suffix > 0 else { return .unsatisfiable }
            return size == 0 ? .unsatisfiable : .part(max(size - suffix, 0)..<size)
        }
        guard let first = Int(spec[0]), first >= 0 else { return .whole }
        guard first < size else { return .unsatisfiable }
        if spec[1].isEmpty { return .part(first..<size) }
        guard let last = Int(spec[1]), last >= first else { return .whole }
        return .part(first..<min(last + 1, size))
    }
}
