/// A `NOTIFY` received on a channel this connection `LISTEN`s to.
public struct PGNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    /// The backend that sent it.
    public var senderPID: Int32
}
