-- GET /v1/a2a/{workflow}/.well-known/agent-card.json: the workflow as an A2A 1.0 agent,
-- for a principal who may run it (42501 otherwise; TR404 for an unknown workflow). One
-- skill, the workflow: its description, and the input fields its nodes bind ($input.x),
-- so a client knows what to put in a data part. `endpoint` is the JSON-RPC URL the relay
-- serves for it; calls need the same bearer token.
CREATE OR REPLACE FUNCTION trellis.a2a_agent_card(workflow text, principal text, endpoint text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    wf_id bigint := trellis.workflow_id(workflow);
    w trellis.workflows;
    latest trellis.workflow_versions;
    fields text[];
    about text;
BEGIN
    PERFORM trellis.require_privilege(trellis.principal_id(principal), wf_id, 'run');
    SELECT * INTO w FROM trellis.workflows x WHERE x.id = wf_id;
    SELECT * INTO latest FROM trellis.workflow_versions x WHERE x.workflow_id = wf_id ORDER BY x.version DESC LIMIT 1;
    SELECT array_agg(DISTINCT m[1] ORDER BY m[1]) INTO fields
    FROM regexp_matches(latest.definition::text, '\$input\.([A-Za-z_][A-Za-z0-9_]*)', 'g') AS m;
    about := coalesce(nullif(w.description, ''), format('Runs the Trellis workflow %s.', w.name));
    RETURN jsonb_build_object(
        'name', w.name,
        'description', about,
        'version', latest.version::text,
        'supportedInterfaces', jsonb_build_array(jsonb_build_object(
            'url', endpoint, 'protocolBinding', 'JSONRPC', 'protocolVersion', '1.0')),
        'provider', jsonb_build_object('organization', 'Trellis', 'url', endpoint),
        'capabilities', jsonb_build_object('streaming', true, 'pushNotifications', false),
        'securitySchemes', jsonb_build_object('bearer', jsonb_build_object('httpAuthSecurityScheme', jsonb_build_object(
            'scheme', 'Bearer', 'description', 'A Trellis API token (trellis token create) with run on the workflow'))),
        'securityRequirements', jsonb_build_array(jsonb_build_object('schemes', jsonb_build_object('bearer', jsonb_build_object('list', '[]'::jsonb)))),
        'defaultInputModes', jsonb_build_array('application/json', 'text/plain'),
        'defaultOutputModes', jsonb_build_array('application/json'),
        'skills', jsonb_build_array(jsonb_build_object(
            'id', w.name, 'name', w.name,
            'description', about || CASE WHEN fields IS NULL THEN ' It takes no input fields.'
                                         ELSE format(' Input: a JSON object (a data part) with %s; text parts become "text".',
                                                     array_to_string(fields, ', ')) END,
            'tags', jsonb_build_array('trellis', 'workflow'),
            'inputModes', jsonb_build_array('application/json', 'text/plain'),
            'outputModes', jsonb_build_array('application/json'))));
END;
$fn$;
