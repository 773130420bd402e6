-- The scheduler row a scheduler function acts for, checked against the caller: unknown
-- (or, unless allow_stopped, stopped) is TR404; a login other than the one that
-- registered it is 42501, so a compromised worker login cannot claim, complete, fail,
-- heartbeat or stop another login's nodes. Superusers may act for any scheduler.
CREATE OR REPLACE FUNCTION trellis.require_scheduler(scheduler bigint, allow_stopped boolean DEFAULT false)
RETURNS trellis.schedulers
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    s trellis.schedulers;
BEGIN
    SELECT * INTO s FROM trellis.schedulers x WHERE x.id = scheduler;
    IF s.id IS NULL OR (s.stopped_at IS NOT NULL AND NOT allow_stopped) THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown or stopped scheduler %s', scheduler);
    END IF;
    -- Two tests, so the usual case (the registering login) is a simple expression, not a
    -- query with a subquery on every call (1.2 % of a one-node run's backend instructions).
    IF s.login <> session_user THEN
        IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user), false) THEN
            RAISE EXCEPTION USING ERRCODE = '42501',
                MESSAGE = format('scheduler %s was registered by login %s; %s may not act for it', scheduler, s.login, session_user);
        END IF;
    END IF;
    RETURN s;
END;
$fn$;
