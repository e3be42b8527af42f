-- Readers see a desk's rows only when one of their session roles is mapped to that desk; the sync
-- role sees everything (it must, to MERGE).
CREATE ROW ACCESS POLICY IF NOT EXISTS $database.$schema."DESK_ROW_POLICY" AS ("DESK_VALUE" VARCHAR) RETURNS BOOLEAN -> IS_ROLE_IN_SESSION('$sync_role_name') OR EXISTS (SELECT 1 FROM $database.$schema."DESK_ACCESS" AS "M" WHERE "M"."DESK" = "DESK_VALUE" AND IS_ROLE_IN_SESSION("M"."ROLE_NAME"));
