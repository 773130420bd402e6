-- Makes `member` a member of role principal `role`; privileges granted to the role apply
-- to its members. Administrators only. Returns false when already a member.
CREATE OR REPLACE FUNCTION trellis.add_role_member(role text, member text, actor text DEFAULT 'admin') RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(actor);
    role_id bigint := trellis.principal_id(role);
    member_id bigint := trellis.principal_id(member);
    added int;
BEGIN
    PERFORM trellis.require_administrator(actor_id, 'change role membership');
    IF (SELECT kind FROM trellis.principals WHERE id = role_id) <> 'role' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('principal "%s" is not a role', role);
    END IF;
    IF role_id = member_id THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('role "%s" cannot be a member of itself', role);
    END IF;
    INSERT INTO trellis.principal_roles (principal_id, role_id) VALUES (member_id, role_id) ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added > 0;
END;
$fn$;
