-- Trellis schema, version 1: the whole data model of DESIGN.md.
--
-- Deliberate ON DELETE behaviour:
--   * history never disappears as a side effect: runs, versions and the principals that
--     authored or started them are RESTRICTed (disable a principal, do not delete it);
--   * rows that only exist as part of a run (node runs, attempts, approvals, events)
--     CASCADE from the run, so retention deletes a run and everything under it;
--   * grants and tokens CASCADE from their principal and workflow;
--   * a scheduler row going away leaves its history (SET NULL; the name is copied).
-- Functions, triggers, views and roles live in sql/ (re-applied when they change).

CREATE SCHEMA IF NOT EXISTS trellis;

-- Principals: users, services and roles. `is_admin` bypasses workflow permissions.
CREATE TABLE trellis.principals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE
                  CONSTRAINT principals_name_format CHECK (name ~ '^[a-z0-9][a-z0-9_.@-]{0,62}$'),
    kind          text NOT NULL DEFAULT 'user'
                  CONSTRAINT principals_kind_check CHECK (kind IN ('user', 'service', 'role')),
    display_name  text,
    is_admin      boolean NOT NULL DEFAULT false,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Membership of a principal in a role principal; privileges granted to a role apply to its members.
CREATE TABLE trellis.principal_roles (
    principal_id  bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE CASCADE,
    role_id       bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE CASCADE,
    PRIMARY KEY (principal_id, role_id),
    CONSTRAINT principal_roles_not_self CHECK (principal_id <> role_id)
);
CREATE INDEX principal_roles_role_idx ON trellis.principal_roles (role_id);

-- API tokens: only a SHA-256 hash of the token is stored; `prefix` identifies it in listings.
CREATE TABLE trellis.api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal_id  bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE CONSTRAINT api_tokens_hash_length CHECK (length(token_hash) = 32),
    prefix        text NOT NULL,
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_tokens_principal_idx ON trellis.api_tokens (principal_id);

CREATE TABLE trellis.workflows (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL UNIQUE
                          CONSTRAINT workflows_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    description           text NOT NULL DEFAULT '',
    owner_id              bigint REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    max_concurrent_runs   integer CONSTRAINT workflows_max_runs_positive CHECK (max_concurrent_runs > 0),
    max_concurrent_nodes  integer CONSTRAINT workflows_max_nodes_positive CHECK (max_concurrent_nodes > 0),
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- Templates: parameterised definitions; instantiating one publishes a workflow version.
-- Immutable once stored (trigger in sql/); a changed template is a new version.
CREATE TABLE trellis.workflow_templates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL
                 CONSTRAINT workflow_templates_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    version      integer NOT NULL CONSTRAINT workflow_templates_version_positive CHECK (version > 0),
    description  text NOT NULL DEFAULT '',
    -- [{"name": "...", "type": "string|integer|number|boolean|object|array", "default": ..., "required": bool}]
    parameters   jsonb NOT NULL DEFAULT '[]'
                 CONSTRAINT workflow_templates_parameters_array CHECK (jsonb_typeof(parameters) = 'array'),
    definition   jsonb NOT NULL CONSTRAINT workflow_templates_definition_object CHECK (jsonb_typeof(definition) = 'object'),
    checksum     text NOT NULL,
    author_id    bigint REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version),
    UNIQUE (name, checksum)
);

-- Immutable published versions (trigger in sql/). Runs pin a version.
CREATE TABLE trellis.workflow_versions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id  bigint NOT NULL REFERENCES trellis.workflows (id) ON DELETE RESTRICT,
    version      integer NOT NULL CONSTRAINT workflow_versions_version_positive CHECK (version > 0),
    definition   jsonb NOT NULL CONSTRAINT workflow_versions_definition_object CHECK (jsonb_typeof(definition) = 'object'),
    checksum     text NOT NULL,
    author_id    bigint REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    template_id  bigint REFERENCES trellis.workflow_templates (id) ON DELETE RESTRICT,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, version),
    UNIQUE (workflow_id, checksum)
);

-- The nodes of a version, normalised from its definition.
CREATE TABLE trellis.workflow_nodes (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id              bigint NOT NULL REFERENCES trellis.workflow_versions (id) ON DELETE CASCADE,
    key                     text NOT NULL CONSTRAINT workflow_nodes_key_format CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    kind                    text NOT NULL CONSTRAINT workflow_nodes_kind_check
                            CHECK (kind IN ('agent_call', 'tool_call', 'human_gate', 'condition', 'parallel', 'join')),
    handler                 text CONSTRAINT workflow_nodes_handler_required
                            CHECK ((handler IS NOT NULL) = (kind IN ('agent_call', 'tool_call', 'parallel'))),
    config                  jsonb NOT NULL DEFAULT '{}',
    input                   jsonb NOT NULL DEFAULT '{}',
    retry_max_attempts      integer NOT NULL DEFAULT 1 CONSTRAINT workflow_nodes_retry_attempts CHECK (retry_max_attempts BETWEEN 1 AND 1000),
    retry_initial_delay_ms  bigint NOT NULL DEFAULT 1000 CONSTRAINT workflow_nodes_retry_initial CHECK (retry_initial_delay_ms >= 0),
    retry_multiplier        double precision NOT NULL DEFAULT 2 CONSTRAINT workflow_nodes_retry_multiplier CHECK (retry_multiplier >= 1 AND retry_multiplier <= 100),
    retry_max_delay_ms      bigint NOT NULL DEFAULT 300000,
    retry_jitter            boolean NOT NULL DEFAULT true,
    timeout_ms              bigint CONSTRAINT workflow_nodes_timeout_positive CHECK (timeout_ms > 0),
    on_error                text NOT NULL DEFAULT 'fail' CONSTRAINT workflow_nodes_on_error_check CHECK (on_error IN ('fail', 'continue')),
    join_mode               text CONSTRAINT workflow_nodes_join_mode_check CHECK (join_mode IN ('all', 'any', 'n')),
    join_n                  integer CONSTRAINT workflow_nodes_join_n_positive CHECK (join_n > 0),
    execution_level         integer NOT NULL DEFAULT 0 CONSTRAINT workflow_nodes_level_nonnegative CHECK (execution_level >= 0),
    upstream_count          integer NOT NULL DEFAULT 0,
    position                integer NOT NULL,
    UNIQUE (version_id, key),
    CONSTRAINT workflow_nodes_retry_delays CHECK (retry_max_delay_ms >= retry_initial_delay_ms)
);

CREATE TABLE trellis.workflow_edges (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id    bigint NOT NULL REFERENCES trellis.workflow_versions (id) ON DELETE CASCADE,
    from_node_id  bigint NOT NULL REFERENCES trellis.workflow_nodes (id) ON DELETE CASCADE,
    to_node_id    bigint NOT NULL REFERENCES trellis.workflow_nodes (id) ON DELETE CASCADE,
    condition     text,
    label         text,
    UNIQUE (from_node_id, to_node_id),
    CONSTRAINT workflow_edges_no_self_loop CHECK (from_node_id <> to_node_id)
);
CREATE INDEX workflow_edges_to_idx ON trellis.workflow_edges (to_node_id);
CREATE INDEX workflow_edges_version_idx ON trellis.workflow_edges (version_id);

-- Privileges per workflow; `admin` implies the others (checked in sql/).
CREATE TABLE trellis.workflow_permissions (
    workflow_id   bigint NOT NULL REFERENCES trellis.workflows (id) ON DELETE CASCADE,
    principal_id  bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE CASCADE,
    privilege     text NOT NULL CONSTRAINT workflow_permissions_privilege_check
                  CHECK (privilege IN ('view', 'run', 'edit', 'approve', 'admin')),
    granted_by    bigint REFERENCES trellis.principals (id) ON DELETE SET NULL,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, principal_id, privilege)
);
CREATE INDEX workflow_permissions_principal_idx ON trellis.workflow_permissions (principal_id);

-- Scheduler instances; liveness is derived from heartbeat age, never from a flag.
CREATE TABLE trellis.schedulers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL,
    hostname      text NOT NULL DEFAULT '',
    pid           integer,
    handlers      text[] NOT NULL DEFAULT '{}',
    concurrency   integer NOT NULL DEFAULT 1 CONSTRAINT schedulers_concurrency_positive CHECK (concurrency > 0),
    version       text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz
);
CREATE INDEX schedulers_live_idx ON trellis.schedulers (heartbeat_at) WHERE stopped_at IS NULL;

CREATE TABLE trellis.workflow_runs (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workflow_id          bigint NOT NULL REFERENCES trellis.workflows (id) ON DELETE RESTRICT,
    version_id           bigint NOT NULL REFERENCES trellis.workflow_versions (id) ON DELETE RESTRICT,
    status               text NOT NULL DEFAULT 'queued' CONSTRAINT workflow_runs_status_check
                         CHECK (status IN ('queued', 'running', 'paused', 'waiting', 'succeeded', 'failed', 'cancelled')),
    input                jsonb NOT NULL DEFAULT '{}',
    context              jsonb NOT NULL DEFAULT '{}',
    output               jsonb,
    error                jsonb,
    started_by           bigint REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    priority             integer NOT NULL DEFAULT 0,
    idempotency_key      text CONSTRAINT workflow_runs_idempotency_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- Per-run event counter: the last `seq` written to run_events (PROTOCOL.md).
    last_seq             bigint NOT NULL DEFAULT 0,
    -- Node runs not yet in a terminal state; the run finishes when it reaches zero.
    nodes_remaining      integer NOT NULL DEFAULT 0 CONSTRAINT workflow_runs_nodes_remaining CHECK (nodes_remaining >= 0),
    total_cost           numeric(20, 6) NOT NULL DEFAULT 0,
    cancel_requested_at  timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    finished_at          timestamptz,
    UNIQUE (workflow_id, idempotency_key),
    CONSTRAINT workflow_runs_finished_iff_terminal
        CHECK ((finished_at IS NOT NULL) = (status IN ('succeeded', 'failed', 'cancelled')))
);
CREATE INDEX workflow_runs_workflow_created_idx ON trellis.workflow_runs (workflow_id, created_at DESC);
CREATE INDEX workflow_runs_active_idx ON trellis.workflow_runs (status)
    WHERE status IN ('queued', 'running', 'paused', 'waiting');
CREATE INDEX workflow_runs_finished_idx ON trellis.workflow_runs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX workflow_runs_version_idx ON trellis.workflow_runs (version_id);

-- One row per node per run (and per item of a `parallel` node). `node_key`, `kind`,
-- `handler` and `priority` are copied from the definition and run so the claim path
-- reads this table alone.
CREATE TABLE trellis.node_runs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            uuid NOT NULL REFERENCES trellis.workflow_runs (id) ON DELETE CASCADE,
    node_id           bigint NOT NULL REFERENCES trellis.workflow_nodes (id) ON DELETE RESTRICT,
    parent_id         bigint REFERENCES trellis.node_runs (id) ON DELETE CASCADE,
    item_index        integer CONSTRAINT node_runs_item_index_nonnegative CHECK (item_index >= 0),
    node_key          text NOT NULL,
    kind              text NOT NULL,
    handler           text,
    status            text NOT NULL DEFAULT 'pending' CONSTRAINT node_runs_status_check
                      CHECK (status IN ('pending', 'ready', 'held', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    priority          integer NOT NULL DEFAULT 0,
    -- The fencing token: bumped on every claim; results must present it.
    attempt           integer NOT NULL DEFAULT 0 CONSTRAINT node_runs_attempt_nonnegative CHECK (attempt >= 0),
    max_attempts      integer NOT NULL DEFAULT 1 CONSTRAINT node_runs_max_attempts_positive CHECK (max_attempts >= 1),
    remaining_deps    integer NOT NULL DEFAULT 0 CONSTRAINT node_runs_remaining_deps CHECK (remaining_deps >= 0),
    ready_at          timestamptz,
    scheduler_id      bigint REFERENCES trellis.schedulers (id) ON DELETE SET NULL,
    claimed_by        text,
    lease_expires_at  timestamptz,
    input             jsonb,
    output            jsonb,
    error             jsonb,
    cost              numeric(20, 6) NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    CONSTRAINT node_runs_unique_item UNIQUE NULLS NOT DISTINCT (run_id, node_key, item_index),
    CONSTRAINT node_runs_running_has_lease CHECK (status <> 'running' OR lease_expires_at IS NOT NULL),
    CONSTRAINT node_runs_ready_has_ready_at CHECK (status <> 'ready' OR ready_at IS NOT NULL)
);
-- Exactly the ready set, in claim order: the claim scans this partial index only.
CREATE INDEX node_runs_ready_idx ON trellis.node_runs (priority DESC, ready_at, id) WHERE status = 'ready';
-- Running nodes by lease expiry, for the reclaimer.
CREATE INDEX node_runs_lease_idx ON trellis.node_runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX node_runs_run_idx ON trellis.node_runs (run_id);
CREATE INDEX node_runs_parent_idx ON trellis.node_runs (parent_id) WHERE parent_id IS NOT NULL;

-- One row per attempt, kept for history (a lost lease is an attempt too).
CREATE TABLE trellis.node_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_run_id     bigint NOT NULL REFERENCES trellis.node_runs (id) ON DELETE CASCADE,
    run_id          uuid NOT NULL REFERENCES trellis.workflow_runs (id) ON DELETE CASCADE,
    attempt         integer NOT NULL CONSTRAINT node_attempts_attempt_positive CHECK (attempt >= 1),
    scheduler_id    bigint REFERENCES trellis.schedulers (id) ON DELETE SET NULL,
    scheduler_name  text,
    outcome         text NOT NULL DEFAULT 'running' CONSTRAINT node_attempts_outcome_check
                    CHECK (outcome IN ('running', 'succeeded', 'failed', 'timed_out', 'lost', 'cancelled')),
    error           jsonb,
    cost            numeric(20, 6) NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (node_run_id, attempt)
);
CREATE INDEX node_attempts_run_idx ON trellis.node_attempts (run_id);
CREATE INDEX node_attempts_scheduler_idx ON trellis.node_attempts (scheduler_id) WHERE scheduler_id IS NOT NULL;

CREATE TABLE trellis.approvals (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id               uuid NOT NULL REFERENCES trellis.workflow_runs (id) ON DELETE CASCADE,
    node_run_id          bigint NOT NULL REFERENCES trellis.node_runs (id) ON DELETE CASCADE,
    status               text NOT NULL DEFAULT 'pending' CONSTRAINT approvals_status_check
                         CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    prompt               text NOT NULL DEFAULT '',
    required_approvals   integer NOT NULL DEFAULT 1 CONSTRAINT approvals_required_positive CHECK (required_approvals >= 1),
    -- When set, only these principals (who also hold `approve`) may decide.
    eligible_principals  bigint[],
    allow_self_approval  boolean NOT NULL DEFAULT false,
    expires_at           timestamptz,
    expiry_outcome       text NOT NULL DEFAULT 'reject' CONSTRAINT approvals_expiry_outcome_check
                         CHECK (expiry_outcome IN ('reject', 'approve')),
    decided_by           bigint REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    decided_at           timestamptz,
    comment              text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT approvals_decided_iff_not_pending CHECK ((decided_at IS NULL) = (status = 'pending'))
);
CREATE INDEX approvals_pending_idx ON trellis.approvals (created_at) WHERE status = 'pending';
CREATE INDEX approvals_expiry_idx ON trellis.approvals (expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL;
CREATE INDEX approvals_run_idx ON trellis.approvals (run_id);

-- Individual votes toward an approval that needs N approvers.
CREATE TABLE trellis.approval_decisions (
    approval_id   uuid NOT NULL REFERENCES trellis.approvals (id) ON DELETE CASCADE,
    principal_id  bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    decision      text NOT NULL CONSTRAINT approval_decisions_decision_check CHECK (decision IN ('approve', 'reject')),
    comment       text,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, principal_id)
);

-- The append-only event log (PROTOCOL.md). `seq` is gap-free per run, taken from
-- workflow_runs.last_seq under the lock the transition already holds. Retention deletes
-- whole runs (CASCADE), which walks this primary key.
CREATE TABLE trellis.run_events (
    run_id  uuid NOT NULL REFERENCES trellis.workflow_runs (id) ON DELETE CASCADE,
    seq     bigint NOT NULL CONSTRAINT run_events_seq_positive CHECK (seq > 0),
    type    text NOT NULL CONSTRAINT run_events_type_format CHECK (type ~ '^[a-z]+\.[a-z_]+$'),
    ts      timestamptz NOT NULL DEFAULT now(),
    data    jsonb NOT NULL DEFAULT '{}' CONSTRAINT run_events_data_object CHECK (jsonb_typeof(data) = 'object'),
    PRIMARY KEY (run_id, seq)
);
