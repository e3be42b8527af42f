-- The dashboard table: per desk and asset class, the newest 5-minute window of traded notional (the
-- gold windows slide every minute, so summing windows would count a trade up to five times). Kept
-- fresh by Snowflake within the target lag, rows filtered by desk. Needs the synced gold table.
CREATE DYNAMIC TABLE IF NOT EXISTS $database.$schema."DASHBOARD_DESK_EXPOSURE" TARGET_LAG = '$target_lag' WAREHOUSE = $warehouse WITH ROW ACCESS POLICY $database.$schema."DESK_ROW_POLICY" ON ("DESK") AS SELECT "DESK", "ASSET_CLASS", "WINDOW_START", "WINDOW_END", $measure FROM $database.$schema."EXPOSURE_BY_ASSET_CLASS_5M" QUALIFY ROW_NUMBER() OVER (PARTITION BY "DESK", "ASSET_CLASS" ORDER BY "WINDOW_START" DESC) = 1;
GRANT SELECT ON DYNAMIC TABLE $database.$schema."DASHBOARD_DESK_EXPOSURE" TO ROLE $reader_role;
