import Hummingbird
import Synchronization

/// Counts the open streams (SSE responses and WebSockets) of one relay against its cap.
final class StreamGate: Sendable {
    private let open = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Streams holding a slot now.
    var count: Int { open.load(ordering: .relaxed) }

    /// Takes a slot, or throws 503 `too_many_connections` when the relay is full. The slot
    /// is given back by `release()` or, failing that, when the last reference to it goes.
    func enter() throws -> StreamSlot {
        if open.add(1, ordering: .relaxed).newValue > limit {
            open.subtract(1, ordering: .relaxed)
            throw RelayError(.serviceUnavailable, "too_many_connections",
                             "this relay serves \(limit) streams at most; retry later or use another relay")
        }
        return StreamSlot(gate: self)
    }

    fileprivate func leave() {
        open.subtract(1, ordering: .relaxed)
    }

    /// A `text/event-stream` response under the cap: the slot is taken now (503 when the
    /// relay is full) and held by the body, which gives it back when it ends — or, if the
    /// body never runs, when it is dropped.
    func eventStream(_ body: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) throws -> Response {
        let slot = try enter()
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { slot.release() }
            try await body(&writer)
        })
    }
}

/// One open stream's place under the relay's cap. An SSE response takes its slot before it
/// answers (so a full relay can say 503) and releases it when its body ends; but
/// Hummingbird never runs the body of a response whose head could not be written (the
/// client left first), so a slot released only there was lost for good. The response body
/// holds the slot, and the slot gives itself back when that body is dropped, run or not.
final class StreamSlot: Sendable {
    private let gate: StreamGate
    private let released = Atomic<Bool>(false)

    fileprivate init(gate: StreamGate) {
        self.gate = gate
    }

    func release() {
        if !released.exchange(true, ordering: .relaxed) { gate.leave() }
    }

    deinit { release() }
}
