-- What is wrong with a human_gate's `approvals` settings, or NULL when nothing is.
CREATE OR REPLACE FUNCTION trellis.approvals_problem(approvals jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
    IF jsonb_typeof(approvals) <> 'object' THEN
        RETURN 'approvals must be an object';
    ELSIF approvals ? 'required' AND (jsonb_typeof(approvals -> 'required') IS DISTINCT FROM 'number'
        OR (approvals ->> 'required')::numeric <> trunc((approvals ->> 'required')::numeric)
        OR (approvals ->> 'required')::numeric NOT BETWEEN 1 AND 1000) THEN
        RETURN format('approvals.required must be an integer from 1 to 1000, got %s', approvals -> 'required');
    ELSIF approvals ? 'approvers' AND (jsonb_typeof(approvals -> 'approvers') IS DISTINCT FROM 'array'
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(approvals -> 'approvers') a WHERE jsonb_typeof(a) <> 'string')) THEN
        RETURN 'approvals.approvers must be an array of principal names';
    ELSIF approvals ? 'approvers' AND (approvals ->> 'required')::numeric > jsonb_array_length(approvals -> 'approvers') THEN
        RETURN format('approvals.required (%s) exceeds the %s listed approvers', approvals ->> 'required',
                      jsonb_array_length(approvals -> 'approvers'));
    ELSIF approvals ? 'expires_in' AND coalesce(trellis.parse_duration_ms(approvals -> 'expires_in'), 0) NOT BETWEEN 1 AND 31536000000 THEN
        RETURN format('approvals.expires_in must be a positive duration of at most 365d, got %s', approvals -> 'expires_in');
    ELSIF approvals ? 'on_expiry' AND approvals ->> 'on_expiry' NOT IN ('reject', 'approve') THEN
        RETURN format('approvals.on_expiry must be "reject" or "approve", got %s', approvals -> 'on_expiry');
    ELSIF approvals ? 'allow_self_approval' AND jsonb_typeof(approvals -> 'allow_self_approval') <> 'boolean' THEN
        RETURN 'approvals.allow_self_approval must be true or false';
    END IF;
    RETURN NULL;
END;
$fn$;
