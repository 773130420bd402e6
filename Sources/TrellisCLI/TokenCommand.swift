import ArgumentParser
import Foundation
import TrellisCore
import TrellisStore

/// `trellis token`: bearer tokens for the relay (administrators).
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens for the relay (only a hash is stored).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token for a principal and print it once; it cannot be shown again.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Principal the token acts as.") var principal: String
        @Option(help: ArgumentHelp("Lifetime: 12h, 30d … (default: no expiry).", valueName: "duration")) var expires: String?
        @Option(help: "What the token is for.") var description = ""

        func validate() throws {
            if let expires, DurationText.seconds(expires) == nil {
                throw ValidationError("--expires must be a duration like 12h or 30d, got \"\(expires)\"")
            }
        }

        func run() async throws {
            let expiry = expires.flatMap(DurationText.seconds).map { Date().addingTimeInterval($0) }
            let created = try await connection.withConnection {
                try await TokenStore(connection: $0).create(for: principal, description: description, expiresAt: expiry, as: actor.name)
            }
            print(created.token)
            Console.note("token \(created.prefix) for \(principal)\(expiry.map { ", expires \(Console.timestamp($0))" } ?? ""); store it now, it is not shown again")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (prefixes and times, never secrets).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only tokens of this principal.") var principal: String?

        func run() async throws {
            let tokens = try await connection.withConnection { try await TokenStore(connection: $0).list(principal: principal) }
            var table = TextTable(headers: ["PREFIX", "PRINCIPAL", "CREATED", "EXPIRES", "REVOKED", "LAST USED", "DESCRIPTION"])
            for token in tokens {
                table.append([token.prefix, token.principal, Console.timestamp(token.createdAt), Console.timestamp(token.expiresAt),
                              Console.timestamp(token.revokedAt), Console.timestamp(token.lastUsedAt), token.description])
            }
            print(table.render())
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its prefix (or id); effective at once.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Token prefix (trl_…) or id.") var token: String

        func run() async throws {
            let revoked = try await connection.withConnection { try await TokenStore(connection: $0).revoke(token, as: actor.name) }
            print(revoked ? "revoked \(token)" : "\(token) was already revoked")
        }
    }
}
