import Hummingbird
import Synchronization

/// Counts the open streams (SSE responses and WebSockets) of one relay against its cap,
/// and each principal's against a cap of its own: one token holder opening streams in a
/// loop (a leak in a client, a reconnect storm of one service) would otherwise use up the
/// relay for everyone else. Past a principal's cap it gets 429 and the others carry on.
final class StreamGate: Sendable {
    private let open = Atomic<Int>(0)
    private let held = Mutex<[String: Int]>([:])
    let limit: Int
    let perPrincipal: Int

    init(limit: Int, perPrincipal: Int? = nil) {
        self.limit = limit
        self.perPrincipal = perPrincipal ?? limit
    }

    /// Streams holding a slot now.
    var count: Int { open.load(ordering: .relaxed) }

    /// Streams `principal` holds now.
    func count(of principal: String) -> Int { held.withLock { $0[principal] ?? 0 } }

    /// Takes a slot for `principal`, or throws 429 `too_many_streams` when it holds its cap,
    /// 503 `too_many_connections` when the relay is full. The slot is given back by
    /// `release()` or, failing that, when the last reference to it goes.
    /// The principal's count is taken first: a client hammering at its own cap then never
    /// holds, even for a moment, a relay-wide slot that another principal could be refused for.
    func enter(_ principal: String) throws -> StreamSlot {
        let admitted = held.withLock { held -> Bool in
            let current = held[principal] ?? 0
            guard current < perPrincipal else { return false }
            held[principal] = current + 1
            return true
        }
        guard admitted else {
            throw RelayError(.tooManyRequests, "too_many_streams",
                             "principal \(principal) holds \(perPrincipal) open streams, the most one principal may hold on this relay; close one or retry later")
        }
        if open.add(1, ordering: .relaxed).newValue > limit {
            open.subtract(1, ordering: .relaxed)
            giveBack(principal)
            throw RelayError(.serviceUnavailable, "too_many_connections",
                             "this relay serves \(limit) streams at most; retry later or use another relay")
        }
        return StreamSlot(gate: self, principal: principal)
    }

    fileprivate func leave(_ principal: String) {
        giveBack(principal)
        open.subtract(1, ordering: .relaxed)
    }

    private func giveBack(_ principal: String) {
        held.withLock { held in
            let left = (held[principal] ?? 1) - 1
            held[principal] = left > 0 ? left : nil
        }
    }

    /// A `text/event-stream` response under the caps: the slot is taken now (429 or 503
    /// when there is none) and held by the body, which gives it back when it ends — or, if
    /// the body never runs, when it is dropped.
    func eventStream(for principal: String, _ body: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) throws -> Response {
        let slot = try enter(principal)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { slot.release() }
            try await body(&writer)
        })
    }
}

/// One open stream's place under the relay's caps. An SSE response takes its slot before it
/// answers (so a full relay can say 503) and releases it when its body ends; but
/// Hummingbird never runs the body of a response whose head could not be written (the
/// client left first), so a slot released only there was lost for good. The response body
/// holds the slot, and the slot gives itself back when that body is dropped, run or not.
final class StreamSlot: Sendable {
    private let gate: StreamGate
    private let principal: String
    private let released = Atomic<Bool>(false)

    fileprivate init(gate: StreamGate, principal: String) {
        self.gate = gate
        self.principal = principal
    }

    func release() {
        if !released.exchange(true, ordering: .relaxed) { gate.leave(principal) }
    }

    deinit { release() }
}
