-- The version a run start pins: options.version, else the latest; TR404 when there is none.
-- Its id and number only (never the row, whose definition would be detoasted; see
-- create_runs). Its result type changed once, so the old one is dropped.
DROP FUNCTION IF EXISTS trellis.pinned_version(text, bigint, jsonb);
CREATE FUNCTION trellis.pinned_version(workflow text, wf_id bigint, options jsonb,
                                       OUT version_id bigint, OUT version_number integer)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    SELECT v.id, v.version INTO version_id, version_number FROM trellis.workflow_versions v
    WHERE v.workflow_id = wf_id AND (NOT options ? 'version' OR v.version = (options ->> 'version')::int)
    ORDER BY v.version DESC LIMIT 1;
    IF version_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = CASE WHEN options ? 'version'
            THEN format('workflow "%s" has no version %s', workflow, options ->> 'version')
            ELSE format('workflow "%s" has no published version', workflow) END;
    END IF;
END;
$fn$;
