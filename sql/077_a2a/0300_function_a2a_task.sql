-- A run as an A2A 1.0 Task (GetTask, and the first event of a stream), for a principal
-- with `view`: id = the run id, contextId = the one the client sent (kept in the run's
-- context as a2a.context_id) or the run id. Run status → task state: queued → SUBMITTED,
-- running and paused → WORKING, waiting (a gate or a question) → INPUT_REQUIRED with the
-- oldest pending prompt as the status message, succeeded → COMPLETED with the run's
-- output as the artifact "output" (a data part), failed → FAILED with the error's
-- message, cancelled → CANCELED. metadata.trellis carries the workflow, the run status,
-- last_seq and the pending approvals.
CREATE OR REPLACE FUNCTION trellis.a2a_task(run uuid, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    r trellis.workflow_runs;
    context_id text;
    state text;
    said text;
    pending jsonb;
BEGIN
    PERFORM trellis.require_run_access(run, principal, 'view');
    SELECT * INTO r FROM trellis.workflow_runs x WHERE x.id = run;
    context_id := coalesce(r.context #>> '{a2a,context_id}', r.id::text);
    SELECT jsonb_agg(jsonb_build_object('approval_id', a.id, 'node_key', n.node_key, 'kind', a.kind, 'prompt', a.prompt)
                     ORDER BY a.created_at, a.id)
    INTO pending
    FROM trellis.approvals a JOIN trellis.node_runs n ON n.id = a.node_run_id
    WHERE a.run_id = run AND a.status = 'pending';
    state := CASE r.status WHEN 'queued' THEN 'TASK_STATE_SUBMITTED' WHEN 'running' THEN 'TASK_STATE_WORKING'
                           WHEN 'paused' THEN 'TASK_STATE_WORKING' WHEN 'waiting' THEN 'TASK_STATE_INPUT_REQUIRED'
                           WHEN 'succeeded' THEN 'TASK_STATE_COMPLETED' WHEN 'failed' THEN 'TASK_STATE_FAILED'
                           ELSE 'TASK_STATE_CANCELED' END;
    said := CASE r.status
                WHEN 'waiting' THEN coalesce(nullif(pending -> 0 ->> 'prompt', ''), format('waiting for a decision on %s', pending -> 0 ->> 'node_key'))
                WHEN 'failed' THEN coalesce(r.error ->> 'message', 'the run failed')
                WHEN 'cancelled' THEN coalesce(r.error ->> 'message', 'the run was cancelled')
                WHEN 'paused' THEN 'the run is paused' END;
    RETURN jsonb_build_object(
        'id', r.id, 'contextId', context_id,
        'status', jsonb_strip_nulls(jsonb_build_object(
            'state', state,
            'timestamp', trellis.a2a_timestamp(coalesce(r.finished_at, r.started_at, r.created_at)),
            'message', CASE WHEN said IS NOT NULL THEN jsonb_build_object(
                'messageId', format('%s:status:%s', r.id, r.last_seq), 'role', 'ROLE_AGENT', 'taskId', r.id,
                'contextId', context_id, 'parts', jsonb_build_array(jsonb_build_object('text', said))) END)),
        'artifacts', CASE WHEN r.status = 'succeeded' THEN jsonb_build_array(jsonb_build_object(
            'artifactId', 'output', 'name', 'output', 'parts', jsonb_build_array(jsonb_build_object('data', coalesce(r.output, '{}'::jsonb)))))
            ELSE '[]'::jsonb END,
        'metadata', jsonb_build_object('trellis', jsonb_strip_nulls(jsonb_build_object(
            'workflow', (SELECT name FROM trellis.workflows WHERE id = r.workflow_id),
            'status', r.status, 'last_seq', r.last_seq, 'approvals', pending))));
END;
$fn$;
