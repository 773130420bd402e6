import Foundation
import Synchronization
import TrellisCore
import TrellisPQ
import TrellisStore

/// A handler's access to artifacts, for the node attempt it runs: it reads the artifacts
/// its run references (run inputs and outputs of the run's nodes) and stores new ones as
/// outputs of its node. Every call presents the attempt to the database, which refuses it
/// once the attempt is no longer this scheduler's (lease lost, run cancelled). Failures
/// arrive as `HandlerError`s a handler may simply rethrow: unknown or unreadable
/// artifacts are not retryable, a lost connection is.
public struct NodeArtifacts: Sendable {
    let pool: ConnectionPool?
    let node: @Sendable () -> ArtifactStore.NodeAttempt
    /// The largest artifact a handler may store.
    public let maxBytes: Int

    init(pool: ConnectionPool?, maxBytes: Int, node: @escaping @Sendable () -> ArtifactStore.NodeAttempt) {
        self.pool = pool
        self.maxBytes = maxBytes
        self.node = node
    }

    /// Outside a scheduler (handlers called directly in tests): every call fails with
    /// `artifacts_unavailable`.
    public static let unavailable = NodeArtifacts(pool: nil, maxBytes: 0) { ArtifactStore.NodeAttempt(scheduler: 0, nodeRunID: 0, attempt: 0) }

    /// Stores `data` as an artifact of this node and returns its reference (put
    /// `reference.json` in the output). The same bytes are stored once, so an upload whose
    /// connection was lost is simply sent again (`retryingLostConnections`).
    public func put(_ data: Data, name: String, mediaType: String = "application/octet-stream") async throws -> ArtifactReference {
        try await Self.retryingLostConnections {
            try await put(AsyncStream { continuation in
                var offset = 0
                while offset < data.count {
                    let end = min(offset + ArtifactStore.chunkSize, data.count)
                    continuation.yield(Array(data[data.startIndex + offset ..< data.startIndex + end]))
                    offset = end
                }
                continuation.finish()
            }, name: name, mediaType: mediaType)
        }
    }

    /// Stores the bytes `parts` yields, streamed into the database a chunk at a time. A
    /// lost connection fails it (`artifacts_unavailable`, retryable): `parts` cannot be read
    /// twice.
    public func put<Parts: AsyncSequence & Sendable>(_ parts: Parts, name: String, mediaType: String = "application/octet-stream")
        async throws -> ArtifactReference where Parts.Element == [UInt8] {
        let node = node()
        let limit = maxBytes
        let uploaded = try await call(replayable: false) {
            try await ArtifactStore(connection: $0).upload(parts, name: name, mediaType: mediaType, maxBytes: limit, for: node)
        }
        return ArtifactReference(id: uploaded.sha256, name: name, mediaType: mediaType, size: uploaded.size)
    }

    /// What the artifact is (name, media type, size), without its bytes.
    public func info(_ id: String) async throws -> ArtifactReference {
        let node = node()
        let head = try await call { try await ArtifactStore(connection: $0).head(id, for: node) }
        return ArtifactReference(id: head.sha256, name: head.name, mediaType: head.mediaType, size: head.size)
    }

    /// The whole artifact in memory; refused (`artifact_too_large`) past `maxBytes`.
    public func data(_ id: String, maxBytes: Int = 64 << 20) async throws -> Data {
        let node = node()
        let head = try await call { try await ArtifactStore(connection: $0).head(id, for: node) }
        guard head.size <= maxBytes else {
            throw HandlerError(code: "artifact_too_large", message: "artifact \(id) is \(head.size) bytes, more than the \(maxBytes) asked for", retryable: false)
        }
        var data = Data(capacity: head.size)
        for try await chunk in chunks(head) { data.append(chunk) }
        return data
    }

    /// The artifact's bytes a chunk (1 MiB) at a time: memory stays flat whatever its size.
    public func chunks(_ id: String) async throws -> AsyncThrowingStream<Data, any Error> {
        let node = node()
        return chunks(try await call { try await ArtifactStore(connection: $0).head(id, for: node) })
    }

    private func chunks(_ head: ArtifactStore.Head) -> AsyncThrowingStream<Data, any Error> {
        let node = node()
        let count = head.size == 0 ? 1 : (head.size + head.chunkSize - 1) / head.chunkSize
        let cursor = ChunkCursor()
        return AsyncThrowingStream {
            let first = cursor.next.add(1, ordering: .relaxed).oldValue
            guard first < count else { return nil }
            return try await call { try await ArtifactStore(connection: $0).chunks(head.sha256, for: node, first: first, last: first) }.first ?? Data()
        }
    }

    /// `value` with every stored-output reference (a node output too large to store
    /// inline, `"truncated": true`) replaced by the output it stands for — what a handler
    /// downstream of such a node calls to see the whole value.
    public func expandingStoredOutputs(_ value: JSONValue, maxBytes: Int = 64 << 20) async throws -> JSONValue {
        if let reference = ArtifactReference(value), reference.isStoredOutput {
            let text = try await data(reference.id, maxBytes: maxBytes)
            do {
                return try JSONDecoder().decode(JSONValue.self, from: text)
            } catch {
                throw HandlerError(code: "invalid_artifact", message: "stored output \(reference.id) is not JSON: \(error)", retryable: false)
            }
        }
        switch value {
        case .array(let items):
            var expanded: [JSONValue] = []
            for item in items { expanded.append(try await expandingStoredOutputs(item, maxBytes: maxBytes)) }
            return .array(expanded)
        case .object(let members):
            var expanded: [String: JSONValue] = [:]
            for (key, member) in members { expanded[key] = try await expandingStoredOutputs(member, maxBytes: maxBytes) }
            return .object(expanded)
        default:
            return value
        }
    }

    /// Runs `body` again, after 0.1 s and then 0.3 s, when it failed because its connection
    /// was lost (`artifacts_unavailable`, retryable): a backend terminated or a database
    /// restarting under an upload or a read is the infrastructure's failure, and must not
    /// spend the node's retry budget — every artifact call is idempotent (uploads are
    /// content-addressed), so sending it again is safe. Anything else is thrown at once.
    static func retryingLostConnections<T>(attempts: Int = 3, firstDelay: Duration = .milliseconds(100),
                                           _ body: () async throws -> T) async throws -> T {
        var delay = firstDelay
        for attempt in 1... {
            do {
                return try await body()
            } catch let error as HandlerError where error.code == "artifacts_unavailable" && error.retryable && attempt < attempts {
                try await Task.sleep(for: delay)
                delay *= 3
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    /// Runs one database call on a pooled connection, turning failures into handler errors;
    /// a `replayable` call is sent again when its connection was lost.
    private func call<T: Sendable>(replayable: Bool = true, _ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        guard replayable else { return try await callOnce(body) }
        return try await Self.retryingLostConnections { try await callOnce(body) }
    }

    private func callOnce<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        guard let pool else {
            throw HandlerError(code: "artifacts_unavailable", message: "this handler runs outside a scheduler: no artifact store", retryable: false)
        }
        do {
            return try await pool.withConnection(body)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw Self.handlerError(for: error)
        }
    }

    /// What a failed artifact call tells the handler. A lost connection — libpq's own
    /// error, or the server ending the session (PGError.isConnectionLoss) — is
    /// `artifacts_unavailable` and retryable, so the call is sent again on a fresh
    /// connection: a backend terminated under a 1.5 MiB upload once surfaced as a
    /// statement error without a SQLSTATE and failed its node's last attempt.
    static func handlerError(for error: any Error) -> HandlerError {
        switch error {
        case let error as HandlerError:
            return error
        case let error as ArtifactStore.TooLarge:
            return HandlerError(code: "artifact_too_large", message: "artifact is over the limit of \(error.limit) bytes; nothing was stored", retryable: false)
        case let error as PGError where error.isConnectionLoss:
            return HandlerError(code: "artifacts_unavailable", message: "artifact store: \(error)")
        case let error as PGError where error.kind == .server && !error.isTransient:
            switch error.sqlState {
            case "TR404": return HandlerError(code: "artifact_not_found", message: error.message, retryable: false)
            case "42501": return HandlerError(code: "artifact_forbidden", message: error.message, retryable: false)
            case "TR409": return HandlerError(code: "lease_lost", message: error.message)
            default: return HandlerError(code: "artifact_error", message: "\(error.sqlState ?? "?"): \(error.message)", retryable: false)
            }
        default:
            return HandlerError(code: "artifacts_unavailable", message: "artifact store: \(error)")
        }
    }
}

/// The next chunk a download stream asks for (its closure is `@Sendable`).
private final class ChunkCursor: Sendable {
    let next = Atomic<Int>(0)
}
