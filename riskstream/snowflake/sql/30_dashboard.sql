-- The dashboard aggregate: traded notional by desk and asset class over the latest 5-minute windows, kept
-- fresh by Snowflake within the target lag, rows filtered by desk. Needs the synced gold table.
CREATE DYNAMIC TABLE IF NOT EXISTS $database.$schema."DASHBOARD_DESK_EXPOSURE" TARGET_LAG = '$target_lag' WAREHOUSE = $warehouse WITH ROW ACCESS POLICY $database.$schema."DESK_ROW_POLICY" ON ("DESK") AS SELECT "DESK", "ASSET_CLASS", MAX("WINDOW_START") AS "LATEST_WINDOW_START", SUM($measure) AS $measure FROM $database.$schema."EXPOSURE_BY_ASSET_CLASS_5M" WHERE "WINDOW_START" >= DATEADD('hour', -24, CURRENT_TIMESTAMP()::TIMESTAMP_NTZ) GROUP BY "DESK", "ASSET_CLASS";
GRANT SELECT ON DYNAMIC TABLE $database.$schema."DASHBOARD_DESK_EXPOSURE" TO ROLE $reader_role;
