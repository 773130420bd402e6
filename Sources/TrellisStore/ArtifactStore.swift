import Crypto
import Foundation
import TrellisPQ

/// Typed calls to the artifact SQL API (`sql/065_artifacts`): uploads stream in 1 MiB
/// chunks inside one transaction (an upload that fails or runs over its cap leaves
/// nothing), named at the end by the SHA-256 of their bytes; downloads read a few chunks
/// at a time, so neither side holds a whole file.
public struct ArtifactStore: Sendable {
    public let connection: PGConnection
    /// The size of a stored chunk (artifacts.chunk_size's default).
    public static let chunkSize = 1 << 20

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// An upload went past its cap: nothing was stored.
    public struct TooLarge: Error, Sendable {
        public var limit: Int
    }

    public struct Uploaded: Sendable {
        public var document: PGJSON
        public var sha256: String
        public var size: Int
        /// False when the same bytes were stored already (the upload was dropped).
        public var created: Bool
    }

    /// Stores the bytes `parts` yields (any sizes) as one artifact, at most `maxBytes`.
    public func upload<Parts: AsyncSequence>(_ parts: Parts, name: String, mediaType: String, maxBytes: Int,
                                             as principal: String) async throws -> Uploaded where Parts.Element == [UInt8] {
        try await store(parts, maxBytes: maxBytes) { conn in
            try await conn.run(Query.Artifacts.begin, [name, mediaType, principal]).single().decode("id")
        } append: { conn, id, seq, data in
            try await conn.run(Query.Artifacts.append, [id, seq, data, principal])
        } finish: { conn, id, sha in
            try await conn.run(Query.Artifacts.finish, [id, sha, principal]).single()
        }
    }

    /// Which node attempt a handler stores or reads artifacts for: the database checks it
    /// is still running at that attempt on that scheduler (the fencing token).
    public struct NodeAttempt: Sendable {
        public var scheduler: Int64
        public var nodeRunID: Int64
        public var attempt: Int

        public init(scheduler: Int64, nodeRunID: Int64, attempt: Int) {
            self.scheduler = scheduler
            self.nodeRunID = nodeRunID
            self.attempt = attempt
        }
    }

    /// Stores the bytes a handler produced as an artifact of its node (an output of the
    /// node's run: readable by whoever may view the run). The document is {id, name,
    /// media_type, size}.
    public func upload<Parts: AsyncSequence>(_ parts: Parts, name: String, mediaType: String, maxBytes: Int,
                                             for node: NodeAttempt) async throws -> Uploaded where Parts.Element == [UInt8] {
        try await store(parts, maxBytes: maxBytes) { conn in
            try await conn.run(Query.Artifacts.nodeBegin, [node.scheduler, node.nodeRunID, node.attempt, name, mediaType]).single().decode("id")
        } append: { conn, id, seq, data in
            try await conn.run(Query.Artifacts.nodeAppend, [id, seq, data])
        } finish: { conn, id, sha in
            try await conn.run(Query.Artifacts.nodeFinish, [node.scheduler, node.nodeRunID, node.attempt, id, sha]).single()
        }
    }

    /// One upload in one transaction: begin, 1 MiB chunks as they fill, finish under the
    /// SHA-256 computed on the way. Past `maxBytes` nothing is kept (TooLarge).
    private func store<Parts: AsyncSequence>(
        _ parts: Parts, maxBytes: Int,
        begin: @Sendable (PGConnection) async throws -> Int64,
        append: @Sendable (PGConnection, Int64, Int, Data) async throws -> Void,
        finish: @Sendable (PGConnection, Int64, String) async throws -> PGRow
    ) async throws -> Uploaded where Parts.Element == [UInt8] {
        try await connection.withTransaction { conn in
            let id = try await begin(conn)
            var hasher = SHA256()
            var pending: [UInt8] = []
            pending.reserveCapacity(Self.chunkSize)
            var seq = 0
            var size = 0
            func flush(_ bytes: ArraySlice<UInt8>) async throws {
                try await append(conn, id, seq, Data(bytes))
                seq += 1
            }
            for try await part in parts {
                size += part.count
                guard size <= maxBytes else { throw TooLarge(limit: maxBytes) }
                hasher.update(data: part)
                pending += part
                while pending.count >= Self.chunkSize {
                    try await flush(pending[..<Self.chunkSize])
                    pending.removeFirst(Self.chunkSize)
                }
            }
            if !pending.isEmpty || seq == 0 { try await flush(pending[...]) }
            let sha = Hex.lowercase(hasher.finalize())
            let row = try await finish(conn, id, sha)
            return Uploaded(document: try row.decode("document"), sha256: sha, size: size, created: try row.decode("created"))
        }
    }

    public func show(_ sha256: String, as principal: String) async throws -> PGJSON {
        try await connection.run(Query.Artifacts.show, [sha256, principal]).single().decode("document")
    }

    public func list(as principal: String, limit: Int = 100) async throws -> PGJSON {
        try await connection.run(Query.Artifacts.list, [principal, limit]).single().decode("document")
    }

    public struct Head: Sendable {
        public var sha256: String
        public var size: Int
        public var chunkSize: Int
        public var mediaType: String
        public var name: String
    }

    /// What a download needs before its bytes (TR404 / 42501 like the bytes).
    public func head(_ sha256: String, as principal: String) async throws -> Head {
        try Self.head(try await connection.run(Query.Artifacts.head, [sha256, principal]).single())
    }

    private static func head(_ row: PGRow) throws -> Head {
        Head(sha256: try row.decode("sha256"), size: try row.decode("size"), chunkSize: try row.decode("chunk_size"),
                    mediaType: try row.decode("media_type"), name: try row.decode("name"))
    }

    /// What a handler needs before reading an artifact its run references.
    public func head(_ sha256: String, for node: NodeAttempt) async throws -> Head {
        try Self.head(try await connection.run(Query.Artifacts.nodeHead, [node.scheduler, node.nodeRunID, node.attempt, sha256]).single())
    }

    /// Chunks `first`…`last` of an artifact the handler's run references.
    public func chunks(_ sha256: String, for node: NodeAttempt, first: Int, last: Int) async throws -> [Data] {
        try await connection.run(Query.Artifacts.nodeChunks, [node.scheduler, node.nodeRunID, node.attempt, sha256, first, last])
            .rows.map { try $0.decode("data") }
    }

    /// Chunks `first`…`last` (by index) of a readable artifact.
    public func chunks(_ sha256: String, as principal: String, first: Int, last: Int) async throws -> [Data] {
        try await connection.run(Query.Artifacts.chunks, [sha256, principal, first, last]).rows.map { try $0.decode("data") }
    }
}
