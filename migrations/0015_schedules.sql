-- Runs on a timetable. A schedule starts runs of a workflow, as its owner, at the ticks
-- of a cron expression read in a time zone; any scheduler instance fires due schedules
-- (trellis.fire_due_schedules), each tick once across all instances: the schedule row is
-- claimed with SKIP LOCKED and each run carries the idempotency key schedule:<id>:<tick>.
CREATE TABLE trellis.schedules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE CONSTRAINT schedules_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    workflow_id    bigint NOT NULL REFERENCES trellis.workflows (id) ON DELETE RESTRICT,
    cron           text NOT NULL CONSTRAINT schedules_cron_length CHECK (length(cron) BETWEEN 1 AND 200),
    timezone       text NOT NULL DEFAULT 'UTC',
    input          jsonb NOT NULL DEFAULT '{}' CONSTRAINT schedules_input_object CHECK (jsonb_typeof(input) = 'object'),
    enabled        boolean NOT NULL DEFAULT true,
    -- What a fire does with ticks missed while no scheduler ran: skip them (only ticks at
    -- most trellis.schedule_grace_seconds late run), run one (the latest), or run all of
    -- them, the latest catch_up_max.
    catch_up       text NOT NULL DEFAULT 'one' CONSTRAINT schedules_catch_up_check CHECK (catch_up IN ('skip', 'one', 'all')),
    catch_up_max   integer NOT NULL DEFAULT 10 CONSTRAINT schedules_catch_up_max_range CHECK (catch_up_max BETWEEN 1 AND 1000),
    next_fire_at   timestamptz,
    owner_id       bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_fired_at  timestamptz,
    last_tick      timestamptz,
    last_run_id    uuid,
    fires          bigint NOT NULL DEFAULT 0,
    last_error     text,
    CONSTRAINT schedules_enabled_has_next CHECK (NOT enabled OR next_fire_at IS NOT NULL)
);
CREATE INDEX schedules_due_idx ON trellis.schedules (next_fire_at) WHERE enabled;

-- A run started by a schedule names it and the tick it was for (no foreign key: a deleted
-- schedule's runs stay in history).
ALTER TABLE trellis.workflow_runs ADD COLUMN schedule_id bigint;
ALTER TABLE trellis.workflow_runs ADD COLUMN scheduled_for timestamptz;
CREATE INDEX workflow_runs_schedule_idx ON trellis.workflow_runs (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL;
