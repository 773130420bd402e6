import Crypto
import Foundation
import TrellisPQ

/// API tokens for the relay. A token is `trl_` + 8 hex (its prefix, shown in listings)
/// + `_` + 43 random base64url characters; only its SHA-256 reaches the database, so
/// neither the database nor its logs ever hold a usable token.
public struct TokenStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public struct Token: Sendable, Hashable {
        public var id: Int64
        public var principal: String
        public var prefix: String
        public var description: String
        public var createdAt: Date
        public var expiresAt: Date?
        public var revokedAt: Date?
        public var lastUsedAt: Date?
    }

    /// A new random token: (the secret to show once, its prefix).
    public static func generate() -> (token: String, prefix: String) {
        var generator = SystemRandomNumberGenerator()
        let prefixBytes = (0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let prefix = "trl_" + Hex.lowercase(prefixBytes)
        let secret = Data(secretBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (prefix + "_" + secret, prefix)
    }

    /// Hex SHA-256 of a token, as stored.
    public static func hash(_ token: String) -> String {
        sha256Hex(token)
    }

    /// Creates a token for `principal` (administrators only); returns the secret, shown once.
    public func create(for principal: String, description: String = "", expiresAt: Date? = nil,
                       as actor: String) async throws -> (token: String, prefix: String, id: Int64) {
        let (token, prefix) = Self.generate()
        let id: Int64 = try await connection.run(
            Query.Tokens.create, [principal, Self.hash(token), prefix, description, expiresAt, actor]).single().decode("id")
        return (token, prefix, id)
    }

    /// The principal a token authenticates; TR401 for unknown, revoked or expired tokens.
    public func authenticate(_ token: String) async throws -> String {
        try await connection.run(Query.Tokens.authenticate, [Self.hash(token)]).single().decode("principal")
    }

    /// Revokes by prefix or id; false when it was already revoked.
    public func revoke(_ token: String, as actor: String) async throws -> Bool {
        try await connection.run(Query.Tokens.revoke, [token, actor]).single().decode("revoked")
    }

    public func list(principal: String? = nil) async throws -> [Token] {
        try await connection.run(Query.Tokens.list, [principal]).rows.map {
            Token(id: try $0.decode("id"), principal: try $0.decode("principal"), prefix: try $0.decode("prefix"),
                  description: try $0.decode("description"), createdAt: try $0.decode("created_at"),
                  expiresAt: try $0.decodeIfPresent("expires_at"), revokedAt: try $0.decodeIfPresent("revoked_at"),
                  lastUsedAt: try $0.decodeIfPresent("last_used_at"))
        }
    }
}
