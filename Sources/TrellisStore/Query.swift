/// Names of the queries under `queries/`. Swift code refers to runtime SQL only through
/// these constants; the text lives in the `.sql` files.
public enum Query {
    public enum Migrator {
        public static let bootstrap = "migrator/bootstrap"
        public static let lock = "migrator/lock"
        public static let unlock = "migrator/unlock"
        public static let bookkeepingExists = "migrator/bookkeeping_exists"
        public static let appliedMigrations = "migrator/applied_migrations"
        public static let appliedDefinitions = "migrator/applied_definitions"
        public static let recordMigration = "migrator/record_migration"
        public static let recordDefinition = "migrator/record_definition"
    }

    public enum Cluster {
        public static let databaseExists = "cluster/database_exists"
    }

    public enum Workflows {
        public static let validate = "workflows/validate"
        public static let publish = "workflows/publish"
        public static let list = "workflows/list"
        public static let version = "workflows/version"
        public static let versionNodes = "workflows/version_nodes"
        public static let versionEdges = "workflows/version_edges"
        public static let setLimits = "workflows/set_limits"
        public static let limits = "workflows/limits"
    }

    public enum Templates {
        public static let importTemplate = "templates/import"
        public static let instantiate = "templates/instantiate"
        public static let list = "templates/list"
        public static let show = "templates/show"
    }

    public enum Principals {
        public static let create = "principals/create"
        public static let list = "principals/list"
        public static let grant = "principals/grant"
        public static let revoke = "principals/revoke"
        public static let grants = "principals/grants"
        public static let hasPrivilege = "principals/has_privilege"
        public static let addRoleMember = "principals/add_role_member"
    }

    public enum Runs {
        public static let start = "runs/start"
        public static let startMany = "runs/start_many"
        public static let registerScheduler = "runs/register_scheduler"
        public static let claim = "runs/claim"
        public static let complete = "runs/complete"
        public static let fail = "runs/fail"
        public static let get = "runs/get"
        public static let nodes = "runs/nodes"
        public static let events = "runs/events"
        public static let heartbeat = "runs/heartbeat"
        public static let reclaimExpired = "runs/reclaim_expired"
        public static let stopScheduler = "runs/stop_scheduler"
        public static let control = "runs/control"
        public static let retry = "runs/retry"
        public static let list = "runs/list"
        public static let reportProgress = "runs/report_progress"
    }

    public enum Artifacts {
        public static let begin = "artifacts/begin"
        public static let append = "artifacts/append"
        public static let finish = "artifacts/finish"
        public static let show = "artifacts/show"
        public static let list = "artifacts/list"
        public static let chunks = "artifacts/chunks"
        public static let head = "artifacts/head"
        public static let nodeBegin = "artifacts/node_begin"
        public static let nodeAppend = "artifacts/node_append"
        public static let nodeFinish = "artifacts/node_finish"
        public static let nodeHead = "artifacts/node_head"
        public static let nodeChunks = "artifacts/node_chunks"
    }

    public enum Schedules {
        public static let create = "schedules/create"
        public static let list = "schedules/list"
        public static let show = "schedules/show"
        public static let setEnabled = "schedules/set_enabled"
        public static let delete = "schedules/delete"
        public static let fireDue = "schedules/fire_due"
    }

    public enum Approvals {
        public static let list = "approvals/list"
        public static let decide = "approvals/decide"
        public static let expire = "approvals/expire"
    }

    public enum History {
        public static let stats = "history/stats"
        public static let failures = "history/failures"
        public static let slowest = "history/slowest"
    }

    public enum Retention {
        public static let preview = "retention/preview"
        public static let pruneBatch = "retention/prune_batch"
        public static let apply = "retention/apply"
        public static let set = "retention/set"
        public static let policy = "retention/policy"
        public static let defaultPolicy = "retention/default"
    }

    public enum Tokens {
        public static let create = "tokens/create"
        public static let authenticate = "tokens/authenticate"
        public static let revoke = "tokens/revoke"
        public static let list = "tokens/list"
    }

    public enum Relay {
        public static let snapshot = "relay/snapshot"
        public static let listRuns = "relay/list_runs"
        public static let listApprovals = "relay/list_approvals"
        public static let requireAccess = "relay/require_access"
        public static let runFeed = "relay/run_feed"
        public static let runFeedHead = "relay/run_feed_head"
        public static let ping = "relay/ping"
    }

    /// The HTTP API's documents: one JSON value per call, checked against the principal.
    public enum API {
        public static let workflows = "api/workflows"
        public static let workflow = "api/workflow"
        public static let workflowVersions = "api/workflow_versions"
        public static let templates = "api/templates"
        public static let template = "api/template"
        public static let runs = "api/runs"
        public static let node = "api/node"
        public static let stats = "api/stats"
        public static let principals = "api/principals"
        public static let grants = "api/grants"
        public static let tokens = "api/tokens"
    }

    public enum Operations {
        public static let fleetStatus = "operations/fleet_status"
    }

    /// Every name above, for the test that checks each one resolves.
    public static let all: [String] = [
        Migrator.bootstrap, Migrator.lock, Migrator.unlock, Migrator.bookkeepingExists,
        Migrator.appliedMigrations, Migrator.appliedDefinitions, Migrator.recordMigration,
        Migrator.recordDefinition, Cluster.databaseExists,
        Workflows.validate, Workflows.publish, Workflows.list, Workflows.version, Workflows.versionNodes,
        Workflows.versionEdges, Workflows.setLimits, Workflows.limits, Templates.importTemplate, Templates.instantiate, Templates.list, Templates.show,
        Principals.create, Principals.list, Principals.grant, Principals.revoke, Principals.grants,
        Principals.hasPrivilege, Principals.addRoleMember, Runs.start, Runs.startMany, Runs.registerScheduler, Runs.claim,
        Runs.complete, Runs.fail, Runs.get, Runs.nodes, Runs.events, Runs.heartbeat, Runs.reclaimExpired,
        Runs.stopScheduler, Runs.control, Runs.retry, Runs.list, Runs.reportProgress, Approvals.list, Approvals.decide, Approvals.expire,
        Artifacts.begin, Artifacts.append, Artifacts.finish, Artifacts.show, Artifacts.list, Artifacts.chunks, Artifacts.head,
        Artifacts.nodeBegin, Artifacts.nodeAppend, Artifacts.nodeFinish, Artifacts.nodeHead, Artifacts.nodeChunks,
        Retention.apply, Retention.set, Retention.policy, Retention.defaultPolicy,
        Schedules.create, Schedules.list, Schedules.show, Schedules.setEnabled, Schedules.delete, Schedules.fireDue,
        History.stats, History.failures, History.slowest, Retention.preview, Retention.pruneBatch,
        Tokens.create, Tokens.authenticate, Tokens.revoke, Tokens.list, Relay.snapshot, Relay.listRuns, Relay.listApprovals,
        Relay.requireAccess, Relay.runFeed, Relay.runFeedHead, Relay.ping, Operations.fleetStatus,
        API.workflows, API.workflow, API.workflowVersions, API.templates, API.template, API.runs, API.node,
        API.stats, API.principals, API.grants, API.tokens,
    ]
}

import TrellisPQ

extension PGConnection {
    /// Runs a named query from the embedded catalogue with bound parameters.
    @discardableResult
    public func run(_ name: String, _ parameters: [(any PGEncodable)?] = [], catalogue: SQLCatalogue = .embedded) async throws -> PGResult {
        try await query(catalogue.query(name), parameters)
    }
}
