import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One HTTP request whose response body arrives as a stream of chunks, as the network
/// delivers them (for server-sent events). Cancelling the task that reads it — node
/// timeout, run cancel, lost lease — cancels the transfer.
final class StreamingTransfer: NSObject, URLSessionDataDelegate, Sendable {
    private struct State {
        var head: CheckedContinuation<HTTPURLResponse, any Error>?
        var body: AsyncThrowingStream<Data, any Error>.Continuation?
        var task: URLSessionDataTask?
    }

    private let state = Mutex(State())

    /// Sends `request`; returns the response head once it arrives, and its body.
    static func start(_ request: URLRequest) async throws -> (HTTPURLResponse, AsyncThrowingStream<Data, any Error>) {
        let transfer = StreamingTransfer()
        let (body, continuation) = AsyncThrowingStream<Data, any Error>.makeStream(bufferingPolicy: .unbounded)
        let session = URLSession(configuration: .ephemeral, delegate: transfer, delegateQueue: nil)
        continuation.onTermination = { _ in
            transfer.state.withLock { $0.task }?.cancel()
            session.finishTasksAndInvalidate()
        }
        transfer.state.withLock { $0.body = continuation }
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (head: CheckedContinuation<HTTPURLResponse, any Error>) in
                let task = session.dataTask(with: request)
                transfer.state.withLock {
                    $0.head = head
                    $0.task = task
                }
                task.resume()
            }
        } onCancel: {
            transfer.state.withLock { $0.task }?.cancel()
        }
        return (head, body)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let head = state.withLock { state in
            defer { state.head = nil }
            return state.head
        }
        if let http = response as? HTTPURLResponse {
            head?.resume(returning: http)
        } else {
            head?.resume(throwing: URLError(.badServerResponse))
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        _ = state.withLock { $0.body }?.yield(data)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (head, body) = state.withLock { state in
            defer {
                state.head = nil
                state.body = nil
            }
            return (state.head, state.body)
        }
        head?.resume(throwing: error ?? URLError(.badServerResponse))
        if let error { body?.finish(throwing: error) } else { body?.finish() }
    }
}
