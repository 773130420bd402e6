import Foundation
import TrellisPQ

/// Typed calls to the principal and permission SQL API.
public struct PrincipalStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public struct Principal: Sendable, Hashable {
        public var name: String
        public var kind: String
        public var displayName: String?
        public var isAdmin: Bool
        public var disabled: Bool
        public var roles: [String]
        public var createdAt: Date
    }

    public struct Grant: Sendable, Hashable {
        public var workflow: String
        public var principal: String
        /// A privilege, or `owner` for the workflow's owner.
        public var privilege: String
        public var grantedBy: String?
        public var grantedAt: Date
    }

    public static let privileges = ["view", "run", "edit", "approve", "admin"]

    @discardableResult
    public func create(_ name: String, kind: String = "user", displayName: String? = nil, isAdmin: Bool = false,
                       as actor: String) async throws -> Int64 {
        try await connection.run(Query.Principals.create, [name, kind, displayName, isAdmin, actor]).single().decode("id")
    }

    /// Adds `member` to role principal `role`; false when it already was a member.
    @discardableResult
    public func addMember(_ member: String, to role: String, as actor: String) async throws -> Bool {
        try await connection.run(Query.Principals.addRoleMember, [role, member, actor]).single().decode("added")
    }

    public func list() async throws -> [Principal] {
        try await connection.run(Query.Principals.list).rows.map {
            let roles: String = try $0.decode("roles")
            return Principal(
                name: try $0.decode("name"), kind: try $0.decode("kind"), displayName: try $0.decodeIfPresent("display_name"),
                isAdmin: try $0.decode("is_admin"), disabled: try $0.decodeIfPresent("disabled_at", as: Date.self) != nil,
                roles: roles.isEmpty ? [] : roles.split(separator: ",").map(String.init), createdAt: try $0.decode("created_at"))
        }
    }

    /// Grants `privilege`; false when it was already granted.
    @discardableResult
    public func grant(_ privilege: String, on workflow: String, to principal: String, as actor: String) async throws -> Bool {
        try await connection.run(Query.Principals.grant, [workflow, principal, privilege, actor]).single().decode("changed")
    }

    /// Revokes `privilege`; false when there was no such grant.
    @discardableResult
    public func revoke(_ privilege: String, on workflow: String, from principal: String, as actor: String) async throws -> Bool {
        try await connection.run(Query.Principals.revoke, [workflow, principal, privilege, actor]).single().decode("changed")
    }

    public func grants(workflow: String? = nil) async throws -> [Grant] {
        try await connection.run(Query.Principals.grants, [workflow]).rows.map {
            Grant(workflow: try $0.decode("workflow"), principal: try $0.decode("principal"), privilege: try $0.decode("privilege"),
                  grantedBy: try $0.decodeIfPresent("granted_by"), grantedAt: try $0.decode("granted_at"))
        }
    }

    public func hasPrivilege(_ principal: String, _ privilege: String, on workflow: String) async throws -> Bool {
        try await connection.run(Query.Principals.hasPrivilege, [principal, workflow, privilege]).single().decode("allowed")
    }
}
