-- Backoff before attempt `attempt + 1`: initial × multiplier^(attempt-1), capped at
-- max_delay, compared in log space so large attempt counts never overflow; with jitter,
-- "full jitter" (uniform in [0, delay]).
CREATE OR REPLACE FUNCTION trellis.retry_delay_ms(attempt integer, initial_ms bigint, multiplier double precision,
                                                  max_ms bigint, jitter boolean) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    base bigint;
BEGIN
    IF initial_ms <= 0 THEN
        base := 0;
    ELSIF multiplier <= 1 OR attempt <= 1 THEN
        base := least(initial_ms, max_ms);
    ELSIF (attempt - 1) * ln(multiplier) >= ln(max_ms::double precision / initial_ms) THEN
        base := max_ms;
    ELSE
        base := least(max_ms, round(initial_ms * power(multiplier, attempt - 1))::bigint);
    END IF;
    IF jitter THEN
        RETURN floor(random() * (base + 1))::bigint;
    END IF;
    RETURN base;
END;
$fn$;
