-- Replaces placeholders with parameter values (see template_placeholders).
CREATE OR REPLACE FUNCTION trellis.fill_placeholders(doc jsonb, params jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    text_value text;
    whole text[];
    match text[];
    replacement text;
BEGIN
    CASE jsonb_typeof(doc)
    WHEN 'object' THEN
        RETURN coalesce((SELECT jsonb_object_agg(key, trellis.fill_placeholders(value, params)) FROM jsonb_each(doc)), '{}'::jsonb);
    WHEN 'array' THEN
        RETURN coalesce((SELECT jsonb_agg(trellis.fill_placeholders(value, params) ORDER BY ord)
                         FROM jsonb_array_elements(doc) WITH ORDINALITY AS t(value, ord)), '[]'::jsonb);
    WHEN 'string' THEN
        text_value := doc #>> '{}';
        whole := regexp_match(text_value, '^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$');
        IF whole IS NOT NULL THEN
            RETURN coalesce(params -> whole[1], 'null'::jsonb);
        END IF;
        FOR match IN SELECT regexp_matches(text_value, '(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\})', 'g') LOOP
            replacement := CASE jsonb_typeof(params -> match[2])
                               WHEN 'string' THEN params ->> match[2]
                               ELSE coalesce((params -> match[2])::text, '')
                           END;
            text_value := replace(text_value, match[1], replacement);
        END LOOP;
        RETURN to_jsonb(text_value);
    ELSE
        RETURN doc;
    END CASE;
END;
$fn$;
