import Foundation
import Hummingbird
import TrellisCore
import TrellisPQ
import TrellisStore

/// A failure the relay answers with `{"error": {"code", "message"}}` and a status mapped
/// from the SQLSTATE the SQL functions raise (or set by the relay itself).
public struct RelayError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// SQLSTATE → HTTP: bad input 400 (also a value libpq cannot send, such as a NUL byte), authentication 401, privilege 403, unknown 404,
    /// finished run / conflicting key 409, too large 413; the database unreachable or
    /// restarting 503 `unavailable` (retry); anything else is a 500 whose detail is logged,
    /// not sent.
    public static func from(_ error: any Error) -> RelayError {
        switch error {
        case let relay as RelayError:
            return relay
        case is ConnectionPool.Exhausted:
            return RelayError(.serviceUnavailable, "unavailable", "every database connection of this relay is busy; retry shortly")
        case let pg as PGError where pg.kind == .connection || pg.kind == .connectionClosed
            || (pg.kind == .server && (pg.sqlState?.hasPrefix("57P") == true || pg.sqlState?.hasPrefix("08") == true)):
            return RelayError(.serviceUnavailable, "unavailable", "the database is unavailable; retry shortly")
        case let pg as PGError where pg.kind == .encoding:
            // A value the database cannot hold (a NUL byte in text): the client's input.
            return RelayError(.badRequest, "invalid_input", "a value in the request cannot be stored: \(pg.message)")
        case let pg as PGError where pg.kind == .server:
            let state = pg.sqlState ?? ""
            switch TrellisErrorCode(rawValue: state) {
            case .unauthenticated?: return RelayError(.unauthorized, "unauthorized", pg.message)
            case .notFound?: return RelayError(.notFound, "not_found", pg.message)
            case .conflict?: return RelayError(.conflict, "conflict", pg.message)
            case .cursorExpired?: return RelayError(.gone, "cursor_expired", pg.message)
            case let code? where code.isInvalidInput: return RelayError(.badRequest, "invalid_input", pg.message)
            default: break
            }
            switch state {
            case "42501": return RelayError(.forbidden, "forbidden", pg.message)
            case "23505": return RelayError(.conflict, "conflict", pg.message)
            case "54000": return RelayError(.contentTooLarge, "too_large", pg.message)
            case _ where state.hasPrefix("22") || state.hasPrefix("23"):
                return RelayError(.badRequest, "invalid_input", pg.message)
            default: return RelayError(.internalServerError, "internal", "internal error (SQLSTATE \(state))")
            }
        case let store as StoreError:
            return RelayError(store.code == .notFound ? .notFound : .badRequest, store.code.rawValue, store.message)
        case let http as any HTTPResponseError:
            switch http.status {
            case .contentTooLarge: return RelayError(.contentTooLarge, "too_large", "request body is larger than the limit")
            case .notFound: return RelayError(.notFound, "not_found", "no such resource")
            case .badRequest: return RelayError(.badRequest, "invalid_input", "bad request")
            default: return RelayError(http.status, "http_\(http.status.code)", http.status.reasonPhrase)
            }
        default:
            return RelayError(.internalServerError, "internal", "internal error")
        }
    }

    public var body: String {
        #"{"error": {"code": \#(JSONText.quote(code)), "message": \#(JSONText.quote(message))}}"#
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        HTTPReply.json(body, status: status)
    }
}
