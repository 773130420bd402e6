-- Creates a user, service or role principal. Only an administrator may (`actor`).
CREATE OR REPLACE FUNCTION trellis.create_principal(
    name text, kind text DEFAULT 'user', display_name text DEFAULT NULL,
    is_admin boolean DEFAULT false, actor text DEFAULT 'admin'
) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(actor);
    new_id bigint;
BEGIN
    PERFORM trellis.require_administrator(actor_id, 'create principals');
    IF name IS NULL OR name !~ '^[a-z0-9][a-z0-9_.@-]{0,62}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('invalid principal name "%s": use 1-63 lower-case letters, digits, "_", ".", "@" or "-"', name);
    END IF;
    IF kind IS NULL OR kind NOT IN ('user', 'service', 'role') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('invalid principal kind "%s" (expected user, service or role)', kind);
    END IF;
    INSERT INTO trellis.principals (name, kind, display_name, is_admin)
    VALUES (create_principal.name, create_principal.kind, create_principal.display_name, coalesce(create_principal.is_admin, false))
    ON CONFLICT ON CONSTRAINT principals_name_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '23505', MESSAGE = format('principal "%s" already exists', name);
    END IF;
    RETURN new_id;
END;
$fn$;
