SELECT to_regprocedure('trellis.start_runs(text, jsonb[], text, jsonb)') IS NOT NULL AS present
