-- The version a run start pins: options.version, else the latest; TR404 when there is none.
CREATE OR REPLACE FUNCTION trellis.pinned_version(workflow text, wf_id bigint, options jsonb) RETURNS trellis.workflow_versions
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    pinned trellis.workflow_versions;
BEGIN
    SELECT * INTO pinned FROM trellis.workflow_versions v
    WHERE v.workflow_id = wf_id AND (NOT options ? 'version' OR v.version = (options ->> 'version')::int)
    ORDER BY v.version DESC LIMIT 1;
    IF pinned.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = CASE WHEN options ? 'version'
            THEN format('workflow "%s" has no version %s', workflow, options ->> 'version')
            ELSE format('workflow "%s" has no published version', workflow) END;
    END IF;
    RETURN pinned;
END;
$fn$;
