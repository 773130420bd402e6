import ArgumentParser
import Foundation
import TrellisCore
import TrellisStore

struct ApprovalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approval",
        abstract: "List and decide approvals: human gates, and questions a handler asked (kind input).",
        subcommands: [List.self, Approve.self, Reject.self, Answer.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List approvals (pending by default).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "pending, approved, rejected, expired or all.") var status = "pending"
        @Option(help: "Only this run.") var run: String?

        func run() async throws {
            guard ApprovalStatus(rawValue: status) != nil || status == "all" else {
                throw CLIError("--status must be pending, approved, rejected, expired or all")
            }
            let runID = try run.map { try Console.uuid($0, "a run id") }
            let approvals = try await connection.withConnection {
                try await ApprovalStore(connection: $0).list(status: status == "all" ? nil : status, run: runID)
            }
            var table = TextTable(headers: ["APPROVAL", "WORKFLOW", "NODE", "KIND", "STATUS", "VOTES", "STARTED BY", "EXPIRES AT", "PROMPT"])
            for a in approvals {
                table.append([a.id.uuidString.lowercased(), a.workflow, a.nodeKey, a.kind, a.status, "\(a.approvals)/\(a.required)",
                              a.startedBy ?? "", Console.timestamp(a.expiresAt), a.prompt])
            }
            print(table.render())
        }
    }

    struct DecisionOptions: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Approval id.") var id: String
        @Option(help: "Recorded with the decision.") var comment: String?

        func decide(_ decision: ApprovalStore.Decision) async throws {
            let uuid = try Console.uuid(id, "an approval id")
            let status = try await connection.withConnection {
                try await ApprovalStore(connection: $0).decide(uuid, decision, as: actor.name, comment: comment)
            }
            print(status == "pending"
                  ? "\(actor.name) approved \(uuid.uuidString.lowercased()); more approvals are needed"
                  : "approval \(uuid.uuidString.lowercased()) \(status) by \(actor.name)")
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve (needs the approve privilege; not on a run you started).")
        @OptionGroup var options: DecisionOptions
        func run() async throws { try await options.decide(.approve) }
    }

    /// `approve --comment TEXT` under the name people look for when an agent asked them.
    struct Answer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer a question a node asked (an approval of kind input): the node runs again with the answer.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Approval id.") var id: String
        @Argument(help: "The answer, sent to the node's agent.") var text: String

        func run() async throws {
            let uuid = try Console.uuid(id, "an approval id")
            let status = try await connection.withConnection { conn in
                let store = ApprovalStore(connection: conn)
                guard let kind = try await store.kind(of: uuid) else {
                    throw CLIError("unknown approval \(uuid.uuidString.lowercased())")
                }
                guard kind == "input" else {
                    throw CLIError("approval \(uuid.uuidString.lowercased()) is a human gate, not a question: use approve or reject")
                }
                return try await store.decide(uuid, .approve, as: actor.name, comment: text)
            }
            print("approval \(uuid.uuidString.lowercased()) \(status == "approved" ? "answered" : status) by \(actor.name)")
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject: the gate fails and its on_error applies.")
        @OptionGroup var options: DecisionOptions
        func run() async throws { try await options.decide(.reject) }
    }
}
