import ArgumentParser
import TrellisCore
import TrellisStore

struct PrincipalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principal",
        abstract: "Create and list principals (users, services, roles).",
        subcommands: [Create.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a principal (administrators only).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Name: lower-case letters, digits, _ . @ -") var name: String
        @Option(help: "user, service or role.") var kind = "user"
        @Option(help: "Human-readable name.") var displayName: String?
        @Flag(help: "Give every privilege on every workflow.") var admin = false
        @Option(help: "Make the new principal a member of this role.") var role: String?

        func run() async throws {
            try await connection.withConnection { conn in
                try await conn.withTransaction { tx in
                    try await PrincipalStore(connection: tx).create(name, kind: kind, displayName: displayName, isAdmin: admin, as: actor.name)
                    if let role { try await PrincipalStore(connection: tx).addMember(name, to: role, as: actor.name) }
                }
            }
            print("created \(kind) \(name)" + (admin ? " (administrator)" : "") + (role.map { " in role \($0)" } ?? ""))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List principals.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let principals = try await connection.withConnection { try await PrincipalStore(connection: $0).list() }
            var table = TextTable(headers: ["NAME", "KIND", "ADMIN", "ROLES", "STATUS", "CREATED AT", "DISPLAY NAME"])
            for p in principals {
                table.append([p.name, p.kind, p.isAdmin ? "yes" : "", p.roles.joined(separator: ","),
                              p.disabled ? "disabled" : "active", Console.timestamp(p.createdAt), p.displayName ?? ""])
            }
            print(table.render())
        }
    }
}

struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant",
        abstract: "Grant a privilege (view, run, edit, approve, admin) on a workflow to a principal.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions
    @Argument(help: "view, run, edit, approve or admin (admin implies the others).") var privilege: String
    @Argument(help: "Workflow name.") var workflow: String
    @Argument(help: "Principal name.") var principal: String

    func run() async throws {
        let changed = try await connection.withConnection {
            try await PrincipalStore(connection: $0).grant(privilege, on: workflow, to: principal, as: actor.name)
        }
        print(changed ? "granted \(privilege) on \(workflow) to \(principal)" : "unchanged: \(principal) already has \(privilege) on \(workflow)")
    }
}

struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a privilege on a workflow from a principal.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions
    @Argument(help: "view, run, edit, approve or admin.") var privilege: String
    @Argument(help: "Workflow name.") var workflow: String
    @Argument(help: "Principal name.") var principal: String

    func run() async throws {
        let changed = try await connection.withConnection {
            try await PrincipalStore(connection: $0).revoke(privilege, on: workflow, from: principal, as: actor.name)
        }
        print(changed ? "revoked \(privilege) on \(workflow) from \(principal)" : "unchanged: \(principal) had no \(privilege) grant on \(workflow)")
    }
}

struct GrantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grants", abstract: "List grants (and owners), for one workflow or all.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Workflow name (default: all).") var workflow: String?

    func run() async throws {
        let grants = try await connection.withConnection { conn in
            if let workflow { _ = try await WorkflowStore(connection: conn).version(workflow) }
            return try await PrincipalStore(connection: conn).grants(workflow: workflow)
        }
        var table = TextTable(headers: ["WORKFLOW", "PRINCIPAL", "PRIVILEGE", "GRANTED BY", "GRANTED AT"])
        for g in grants {
            table.append([g.workflow, g.principal, g.privilege, g.grantedBy ?? "", Console.timestamp(g.grantedAt)])
        }
        print(table.render())
    }
}
