import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import TrellisCore
import TrellisPQ
import TrellisStore

/// SSE (`GET /v1/runs/{id}/events`) and WebSocket (`GET /v1/ws`) per PROTOCOL.md.
struct EventStreams: Sendable {
    let relay: Relay

    static let terminal = Set(RunStatus.allCases.filter(\.isTerminal).map(\.rawValue))
    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    func stream(_ run: UUID) -> EventStream {
        EventStream(run: run, hub: relay.hub, pool: relay.streamPool, metrics: relay.metrics,
                    queueLimit: relay.options.queueLimit)
    }

    /// Checks again what opened a stream: the token still authenticates the same
    /// principal (else 401 `unauthorized`), and the principal may still view each run
    /// (403 `forbidden`; a pruned run is 404 `not_found`). Returns the runs that fail, with
    /// why; throws when the token itself no longer holds.
    func revalidate(token: String, principal: String, runs: [UUID]) async throws -> [UUID: RelayError] {
        try await relay.pool.withConnection { conn in
            let now: String
            do {
                now = try await TokenStore(connection: conn).authenticate(token)
            } catch let error as PGError where error.sqlState == "TR401" {
                throw RelayError.from(error)  // revoked or expired: unauthorized
            }
            guard now == principal else { throw RelayError(.unauthorized, "unauthorized", "the token no longer names this principal") }
            var refused: [UUID: RelayError] = [:]
            for run in runs {
                do {
                    _ = try await APIStore(connection: conn).requireAccess(to: run, as: principal)
                } catch let error as PGError where error.kind == .server {
                    let mapped = RelayError.from(error)
                    refused[run] = mapped.code == "not_found"
                        ? RelayError(.notFound, "not_found", "run \(run.uuidString.lowercased()) no longer exists (pruned)") : mapped
                }
            }
            return refused
        }
    }

    /// Every `revalidateEvery` while an SSE stream is open: the token must still
    /// authenticate (else `unauthorized`) and each of `runs` must still be visible; either
    /// failure stops the stream with its reason. A database away keeps the stream.
    func watch(token: String, principal: String, runs: [UUID], stop: StreamStop) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: relay.options.revalidateEvery)
                if Task.isCancelled { return }
                do {
                    if let refused = try await revalidate(token: token, principal: principal, runs: runs).values.first { stop.stop(refused) }
                } catch let error as RelayError where error.code == "unauthorized" {
                    stop.stop(error)
                    return
                } catch {}
            }
        }
    }

    /// The run feed's `reset {cursor_expired}`: the client refetches and starts again.
    static func feedReset(_ reason: RelayError) -> String {
        #"{"type": "reset", "feed": "runs", "reason": "cursor_expired", "message": \#(JSONText.quote(reason.message))}"#
    }

    /// The `hello` of a run feed: where it starts and what it follows.
    static func feedHello(workflow: String?, cursor: String) -> String {
        #"{"type": "hello", "v": 1, "feed": "runs", "workflow": \#(workflow.map(JSONText.quote) ?? "null"), "cursor": \#(JSONText.quote(cursor)), "server_time": "\#(EventEnvelope.rfc3339(Date()))"}"#
    }

    /// Checks `view` on the run; returns its status and last seq.
    func access(_ run: UUID, _ principal: String) async throws -> (status: String, lastSeq: Int64) {
        try await relay.pool.withConnection { try await APIStore(connection: $0).streamAccess(to: run, as: principal) }
    }

    func register(on api: RouterGroup<RelayContext>) {
        api.get("runs/:id/events") { request, context in
            let run = try RequestInput.uuid(context.parameters.require("id"), "run")
            let cursorText = request.headers[Self.lastEventID] ?? request.uri.queryParameters.get("after").map { String($0) }
            let after = Int64(try RequestInput.integer(cursorText, "the resume cursor (Last-Event-ID or after)") ?? 0)
            guard after >= 0 else { throw RelayError(.badRequest, "invalid_input", "the resume cursor must be 0 or more") }
            let principal = try context.who
            let state = try await access(run, principal)
            if Self.terminal.contains(state.status) && after >= state.lastSeq {
                return Response(status: .noContent)
            }
            let stream = stream(run)
            let token = context.token ?? ""
            return try relay.gate.eventStream(for: principal) { writer in
                // The token and the grant are checked again while the stream is open.
                let stop = StreamStop()
                let watcher = watch(token: token, principal: principal, runs: [run], stop: stop)
                defer { watcher.cancel() }
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                try await stream.deliver(after: after, stop: stop) { steps in
                    // One buffer (one flush) per batch.
                    var text = ""
                    for step in steps {
                        switch step {
                        case .event(let event, let replayed):
                            text += "id: \(event.seq)\nevent: \(event.type)\ndata: \(event.envelope(replayed: replayed))\n\n"
                        case .heartbeat:
                            text += ": heartbeat\n\n"
                        }
                    }
                    try await writer.write(ByteBuffer(string: text))
                }
                if let reason = stop.reason {
                    try await writer.write(ByteBuffer(string: "event: error\ndata: \(reason.body)\n\n"))
                } else {
                    try await writer.write(ByteBuffer(string: "event: end\ndata: {\"run_id\": \"\(run.uuidString.lowercased())\"}\n\n"))
                }
                try await writer.finish(nil)
            }
        }

        // Run lifecycle events across runs (PROTOCOL.md "Feeds beyond one run"): every run
        // the token may view, or one workflow's. Resume with Last-Event-ID or ?after=CURSOR;
        // without one the feed starts now. It never ends on its own.
        api.get("events") { request, context in
            let principal = try context.who
            let workflow: String? = request.uri.queryParameters.get("workflow").map { String($0) }
            let feed = RunFeed(relay: relay, principal: principal, workflow: workflow)
            let given: String? = request.headers[Self.lastEventID] ?? request.uri.queryParameters.get("after").map { String($0) }
            let start: String
            if let given { start = given } else { start = try await feed.head() }
            var expired: RelayError?
            do {
                try await feed.check(start)
            } catch where RelayError.from(error).code == "cursor_expired" {
                expired = RelayError.from(error)
            }
            if let expired {
                // PROTOCOL.md: a cursor older than retention gets `reset {cursor_expired}`.
                return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                                body: .init(byteBuffer: ByteBuffer(string: "retry: 2000\n\nevent: reset\ndata: \(Self.feedReset(expired))\n\n")))
            }
            let token = context.token ?? ""
            return try relay.gate.eventStream(for: principal) { writer in
                // The token is checked again while the stream is open (the feed's reads check `view`).
                let stop = StreamStop()
                let watcher = watch(token: token, principal: principal, runs: [], stop: stop)
                defer { watcher.cancel() }
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                try await writer.write(ByteBuffer(string: "event: hello\ndata: \(Self.feedHello(workflow: feed.workflow, cursor: start))\n\n"))
                do {
                    try await feed.deliver(from: start, stop: stop) { steps in
                        var text = ""
                        for step in steps {
                            switch step {
                            case .event(let envelope, let type, let cursor):
                                text += "id: \(cursor)\nevent: \(type)\ndata: \(envelope)\n\n"
                            case .heartbeat:
                                text += ": heartbeat\n\n"
                            }
                        }
                        try await writer.write(ByteBuffer(string: text))
                    }
                } catch where !(error is CancellationError) {
                    stop.stop(RelayError.from(error))
                }
                if let reason = stop.reason, reason.code == "cursor_expired" {
                    try await writer.write(ByteBuffer(string: "event: reset\ndata: \(Self.feedReset(reason))\n\n"))
                } else if let reason = stop.reason {
                    try await writer.write(ByteBuffer(string: "event: error\ndata: \(reason.body)\n\n"))
                }
                try await writer.finish(nil)
            }
        }

        let sendTimeout = relay.options.sendTimeout
        api.ws("ws", shouldUpgrade: { _, context in
            _ = try context.who
            // The HTTP pipeline's handlers (SendTimeout among them) are added only to
            // connections that stay HTTP: an upgraded socket gets the option here.
            SendTimeout.apply(sendTimeout, to: context.channel)
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, webSocket in
            guard let principal = webSocket.requestContext.principal, let token = webSocket.requestContext.token else { return }
            let socket = SocketWriter(outbound: outbound)
            let slot: StreamSlot
            do {
                slot = try relay.gate.enter(principal)
            } catch {
                let refused = RelayError.from(error)
                try? await socket.send(#"{"type": "error", "code": \#(JSONText.quote(refused.code)), "message": \#(JSONText.quote(refused.message))}"#)
                try? await outbound.close(.goingAway, reason: refused.code)
                return
            }
            defer { slot.release() }
            let session = SocketSession(streams: self, principal: principal, token: token, socket: socket)
            await session.serve(inbound)
        })
    }
}

/// One WebSocket: many runs, control operations, each request answered with an ack or
/// an error (the socket stays open for anything the protocol can answer).
actor SocketSession {
    let streams: EventStreams
    let principal: String
    /// Checked again before every op and every `revalidateEvery` (revocation, expiry).
    let token: String
    let socket: SocketWriter
    private var subscriptions: [UUID: (task: Task<Void, Never>, stop: StreamStop)] = [:]
    /// The run-lifecycle feed this socket follows (`subscribe_runs`), at most one.
    private var runFeed: (task: Task<Void, Never>, stop: StreamStop)?
    private var closed = false

    init(streams: EventStreams, principal: String, token: String, socket: SocketWriter) {
        self.streams = streams
        self.principal = principal
        self.token = token
        self.socket = socket
    }

    func serve(_ inbound: WebSocketInboundStream) async {
        let watcher = Task { await watch() }
        do {
            for try await message in inbound.messages(maxSize: 1 << 16) {
                guard case .text(let text) = message else {
                    await reply(error: RelayError(.badRequest, "invalid_message", "binary messages are not supported"), id: nil)
                    continue
                }
                await handle(text)
                if closed { break }
            }
        } catch {
            // The client went away or broke the protocol; subscriptions end below.
        }
        watcher.cancel()
        for subscription in subscriptions.values { subscription.task.cancel() }
        subscriptions = [:]
        runFeed?.task.cancel()
        runFeed = nil
    }

    /// Every `revalidateEvery`: the token must still authenticate this principal (else the
    /// socket is closed with an `unauthorized` error), and each followed run must still be
    /// visible (else that subscription ends with `forbidden`, or `not_found` once pruned).
    private func watch() async {
        while !Task.isCancelled && !closed {
            try? await Task.sleep(for: streams.relay.options.revalidateEvery)
            if Task.isCancelled || closed { return }
            do {
                let refused = try await streams.revalidate(token: token, principal: principal, runs: Array(subscriptions.keys))
                for (run, reason) in refused { end(run, with: reason) }
            } catch let error as RelayError where error.code == "unauthorized" {
                await close(with: error)
            } catch {
                // The database is away: streams wait it out; check again next time.
            }
        }
    }

    /// Ends one subscription with an error frame naming its run.
    private func end(_ run: UUID, with reason: RelayError) {
        guard let subscription = subscriptions.removeValue(forKey: run) else { return }
        subscription.stop.stop(reason)
        subscription.task.cancel()
        let socket = self.socket
        Task {
            try? await socket.send(#"{"type": "error", "run_id": "\#(run.uuidString.lowercased())", "code": \#(JSONText.quote(reason.code)), "message": \#(JSONText.quote(reason.message))}"#)
        }
    }

    /// Tells the client why and closes the socket (a revoked or expired token).
    private func close(with reason: RelayError) async {
        guard !closed else { return }
        closed = true
        for subscription in subscriptions.values {
            subscription.stop.stop(reason)
            subscription.task.cancel()
        }
        subscriptions = [:]
        runFeed?.stop.stop(reason)
        runFeed?.task.cancel()
        runFeed = nil
        await reply(error: reason, id: nil)
        try? await socket.outbound.close(.policyViolation, reason: reason.code)
    }

    func handle(_ text: String) async {
        guard let data = text.data(using: .utf8), let value = try? JSONSerialization.jsonObject(with: data),
              let message = value as? [String: Any] else {
            await reply(error: RelayError(.badRequest, "invalid_json", "messages must be JSON objects"), id: nil)
            return
        }
        let id = message["id"].flatMap { try? RequestInput.json($0) }
        do {
            guard let op = message["op"] as? String else { throw RelayError(.badRequest, "invalid_message", "missing \"op\"") }
            // Every op presents the token again: a revoked or expired one closes the socket.
            do {
                _ = try await streams.revalidate(token: token, principal: principal, runs: [])
            } catch let error as RelayError where error.code == "unauthorized" {
                return await close(with: error)
            }
            switch op {
            case "ping":
                try await socket.send(#"{"type": "pong"\#(id.map { #", "id": \#($0)"# } ?? "")}"#)
            case "subscribe":
                let run = try runID(message)
                let after = (message["after"] as? NSNumber)?.int64Value ?? 0
                guard after >= 0 else { throw RelayError(.badRequest, "invalid_input", "after must be 0 or more") }
                guard subscriptions[run] == nil else { throw RelayError(.conflict, "already_subscribed", "already subscribed to run \(run.uuidString.lowercased())") }
                let cap = streams.relay.options.maxSubscriptionsPerSocket
                guard subscriptions.count < cap else {
                    throw RelayError(.tooManyRequests, "too_many_subscriptions", "a WebSocket follows \(cap) runs at most; unsubscribe or open another socket")
                }
                let state = try await streams.access(run, principal)
                try await socket.send(#"{"type": "hello", "v": 1, "run_id": "\#(run.uuidString.lowercased())", "run_status": "\#(state.status)", "last_seq": \#(state.lastSeq), "server_time": "\#(EventEnvelope.rfc3339(Date()))", "snapshot_url": "/v1/runs/\#(run.uuidString.lowercased())"}"#)
                try await ack(id, op, #""run_id": "\#(run.uuidString.lowercased())""#)
                // A finished run resumed at (or past) its last event has nothing more to
                // send: end at once (the stream would wait for a final event it already sent).
                if EventStreams.terminal.contains(state.status) && after >= state.lastSeq {
                    try await socket.send(#"{"type": "end", "run_id": "\#(run.uuidString.lowercased())"}"#)
                    return
                }
                let stream = streams.stream(run)
                let socket = self.socket
                let stop = StreamStop()
                subscriptions[run] = (Self.follow(stream, after: after, stop: stop, socket: socket, session: self), stop)
            case "subscribe_runs":
                guard runFeed == nil else { throw RelayError(.conflict, "already_subscribed", "this socket already follows the run feed; unsubscribe_runs first") }
                if let value = message["workflow"], !(value is NSNull), !(value is String) {
                    throw RelayError(.badRequest, "invalid_input", "workflow must be a string")
                }
                if let value = message["after"], !(value is NSNull), !(value is String) {
                    throw RelayError(.badRequest, "invalid_input", "after must be a cursor string from the feed")
                }
                let feed = RunFeed(relay: streams.relay, principal: principal, workflow: message["workflow"] as? String)
                let start: String
                if let after = message["after"] as? String { start = after } else { start = try await feed.head() }
                do {
                    try await feed.check(start)
                } catch where RelayError.from(error).code == "cursor_expired" {
                    try await socket.send(EventStreams.feedReset(RelayError.from(error)))
                    return
                }
                try await socket.send(EventStreams.feedHello(workflow: feed.workflow, cursor: start))
                try await ack(id, op, #""cursor": \#(JSONText.quote(start))"#)
                let stop = StreamStop()
                runFeed = (Self.follow(feed, from: start, stop: stop, socket: socket), stop)
            case "unsubscribe_runs":
                runFeed?.task.cancel()
                runFeed = nil
                try await ack(id, op, #""feed": "runs""#)
            case "unsubscribe":
                let run = try runID(message)
                subscriptions.removeValue(forKey: run)?.task.cancel()
                try await ack(id, op, #""run_id": "\#(run.uuidString.lowercased())""#)
            case "state":
                let run = try runID(message)
                let principal = self.principal
                let snapshot = try await streams.relay.pool.withConnection {
                    try await APIStore(connection: $0).snapshot(of: run, as: principal)
                }
                try await socket.send(#"{"type": "state"\#(id.map { #", "id": \#($0)"# } ?? ""), "run": \#(snapshot.text)}"#)
            case "cancel", "pause", "resume":
                let run = try runID(message)
                let principal = self.principal
                let status = try await streams.relay.pool.withConnection {
                    try await RunStore(connection: $0).control(RunStore.Control(rawValue: op)!, run: run, as: principal)
                }
                try await ack(id, op, #""run_id": "\#(run.uuidString.lowercased())", "status": \#(JSONText.quote(status))"#)
            case "approve", "reject":
                guard let text = message["approval_id"] as? String else { throw RelayError(.badRequest, "invalid_input", "missing approval_id") }
                let approval = try RequestInput.uuid(text, "approval")
                let status = try await ControlAPI.decide(streams.relay.pool, approval: approval, decision: op,
                                                         comment: message["comment"] as? String, as: principal)
                try await ack(id, op, #""approval_id": "\#(approval.uuidString.lowercased())", "status": \#(JSONText.quote(status))"#)
            default:
                throw RelayError(.badRequest, "unknown_op", "unknown op \"\(op)\" (expected subscribe, unsubscribe, subscribe_runs, unsubscribe_runs, state, ping, cancel, pause, resume, approve, reject)")
            }
        } catch {
            await reply(error: RelayError.from(error), id: id)
        }
    }

    /// Streams one run to the socket — detached, so the stream never hops onto this
    /// actor per batch (measured in fan-out profiles).
    private nonisolated static func follow(_ stream: EventStream, after: Int64, stop: StreamStop, socket: SocketWriter,
                                           session: SocketSession) -> Task<Void, Never> {
        let run = stream.run
        return Task.detached {
            do {
                try await stream.deliver(after: after, stop: stop) { steps in
                    try await socket.send(frames: steps.compactMap {
                        guard case .event(let event, let replayed) = $0 else { return nil }
                        return replayed ? .text(event.envelope(replayed: true))
                            : .custom(WebSocketFrame(fin: true, opcode: .text, data: event.liveBytes))
                    })
                }
                if !Task.isCancelled && stop.reason == nil { try await socket.send(#"{"type": "end", "run_id": "\#(run.uuidString.lowercased())"}"#) }
            } catch {}
            await session.finished(run)
        }
    }

    /// Streams the run feed to the socket; a refusal on the way (a withdrawn grant) ends it
    /// with an error frame naming the feed.
    private nonisolated static func follow(_ feed: RunFeed, from start: String, stop: StreamStop, socket: SocketWriter) -> Task<Void, Never> {
        Task.detached {
            do {
                try await feed.deliver(from: start, stop: stop) { steps in
                    try await socket.send(frames: steps.compactMap {
                        guard case .event(let envelope, _, _) = $0 else { return nil }
                        return .text(envelope)
                    })
                }
            } catch where !(error is CancellationError) && !Task.isCancelled {
                let reason = RelayError.from(error)
                if reason.code == "cursor_expired" {
                    try? await socket.send(EventStreams.feedReset(reason))
                    return
                }
                try? await socket.send(#"{"type": "error", "feed": "runs", "code": \#(JSONText.quote(reason.code)), "message": \#(JSONText.quote(reason.message))}"#)
            } catch {}
        }
    }

    private func finished(_ run: UUID) {
        subscriptions[run] = nil
    }

    private func runID(_ message: [String: Any]) throws -> UUID {
        guard let text = message["run_id"] as? String else { throw RelayError(.badRequest, "invalid_input", "missing run_id") }
        return try RequestInput.uuid(text, "run")
    }

    private func ack(_ id: String?, _ op: String, _ fields: String) async throws {
        try await socket.send(#"{"type": "ack"\#(id.map { #", "id": \#($0)"# } ?? ""), "op": "\#(op)", \#(fields)}"#)
    }

    private func reply(error: RelayError, id: String?) async {
        try? await socket.send(#"{"type": "error"\#(id.map { #", "id": \#($0)"# } ?? ""), "code": \#(JSONText.quote(error.code)), "message": \#(JSONText.quote(error.message))}"#)
    }
}
