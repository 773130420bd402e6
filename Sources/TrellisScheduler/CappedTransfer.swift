import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One HTTP request whose response body is read up to `cap` bytes: past it the task is
/// cancelled and `response_too_large` thrown, so a huge answer never lands in memory.
/// Task cancellation (node timeout, run cancel, lost lease) cancels the transfer.
final class CappedTransfer: NSObject, URLSessionDataDelegate, Sendable {
    private struct State {
        var data = Data()
        var response: URLResponse?
        var tooLarge = false
        var continuation: CheckedContinuation<(Data, URLResponse), any Error>?
        var task: URLSessionDataTask?
    }

    private let cap: Int
    private let state = Mutex(State())

    init(cap: Int) {
        self.cap = cap
    }

    func run(_ request: URLRequest) async throws -> (Data, URLResponse) {
        let session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: request)
                state.withLock {
                    $0.continuation = continuation
                    $0.task = task
                }
                task.resume()
            }
        } onCancel: {
            state.withLock { $0.task }?.cancel()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        state.withLock { $0.response = response }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = state.withLock { state -> Bool in
            guard !state.tooLarge else { return false }
            if state.data.count + data.count > cap {
                state.tooLarge = true
                return true
            }
            state.data.append(data)
            return false
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (continuation, result): (CheckedContinuation<(Data, URLResponse), any Error>?, Result<(Data, URLResponse), any Error>) = state.withLock { state in
            defer { state.continuation = nil }
            if state.tooLarge {
                return (state.continuation, .failure(HandlerError(
                    code: "response_too_large", message: "http: the response body is larger than \(cap) bytes (config.max_response_bytes)", retryable: false)))
            }
            if let error { return (state.continuation, .failure(error)) }
            guard let response = state.response else {
                return (state.continuation, .failure(URLError(.badServerResponse)))
            }
            return (state.continuation, .success((state.data, response)))
        }
        continuation?.resume(with: result)
    }
}
