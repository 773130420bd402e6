import Hummingbird
import NIOCore

/// The responses Trellis's HTTP servers build by hand: JSON bodies and the Prometheus
/// text exposition (the relay, and `trellis scheduler --metrics-port`).
public enum HTTPReply {
    public static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        reply(text, contentType: "application/json", status: status)
    }

    public static func prometheus(_ text: String) -> Response {
        reply(text, contentType: "text/plain; version=0.0.4", status: .ok)
    }

    private static func reply(_ text: String, contentType: String, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
