-- The built-in administrator: the CLI acts as `admin` unless told otherwise (--as or
-- TRELLIS_PRINCIPAL). `is_admin` holds every privilege on every workflow.
INSERT INTO trellis.principals (name, kind, display_name, is_admin)
VALUES ('admin', 'user', 'Built-in administrator', true)
ON CONFLICT (name) DO NOTHING;
