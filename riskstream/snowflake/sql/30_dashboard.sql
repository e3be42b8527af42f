-- The dashboard table: per desk and asset class, the newest 5-minute window of traded notional (the
-- gold windows slide every minute, so summing windows would count a trade up to five times). Kept
-- fresh by Snowflake within the target lag, rows filtered by desk. Needs the synced gold table.
CREATE DYNAMIC TABLE IF NOT EXISTS $database.$schema."DASHBOARD_DESK_EXPOSURE" TARGET_LAG = '$target_lag' WAREHOUSE = $warehouse WITH ROW ACCESS POLICY $database.$schema."DESK_ROW_POLICY" ON ("DESK") AS SELECT "DESK", "ASSET_CLASS", "WINDOW_START", "WINDOW_END", $measure FROM $database.$schema."EXPOSURE_BY_ASSET_CLASS_5M" QUALIFY ROW_NUMBER() OVER (PARTITION BY "DESK", "ASSET_CLASS" ORDER BY "WINDOW_START" DESC) = 1;
GRANT SELECT ON DYNAMIC TABLE $database.$schema."DASHBOARD_DESK_EXPOSURE" TO ROLE $reader_role;
-- The intraday P&L table: per desk and portfolio, the P&L since the start of the newest trading day in the
-- synced PNL (realized, unrealized, total; base currency), the desk taken from the synced POSITIONS. Same lag
-- and row policy; the window over all rows makes Snowflake refresh it in full, which a table of one row per
-- portfolio affords. Needs both synced gold tables.
CREATE DYNAMIC TABLE IF NOT EXISTS $database.$schema."DASHBOARD_PORTFOLIO_PNL" TARGET_LAG = '$target_lag' WAREHOUSE = $warehouse WITH ROW ACCESS POLICY $database.$schema."DESK_ROW_POLICY" ON ("DESK") AS SELECT "POS"."DESK", "P"."PORTFOLIO_ID", "P"."TRADING_DATE", "P"."BASE_CURRENCY", COUNT(*) AS "POSITIONS", SUM("P"."REALIZED_PNL_BASE") AS "REALIZED_PNL_BASE", SUM("P"."UNREALIZED_PNL_BASE") AS "UNREALIZED_PNL_BASE", SUM("P"."TOTAL_PNL_BASE") AS "TOTAL_PNL_BASE" FROM $database.$schema."PNL" AS "P" JOIN $database.$schema."POSITIONS" AS "POS" ON "POS"."PORTFOLIO_ID" = "P"."PORTFOLIO_ID" AND "POS"."INSTRUMENT_ID" = "P"."INSTRUMENT_ID" GROUP BY "POS"."DESK", "P"."PORTFOLIO_ID", "P"."TRADING_DATE", "P"."BASE_CURRENCY" QUALIFY "P"."TRADING_DATE" = MAX("P"."TRADING_DATE") OVER ();
GRANT SELECT ON DYNAMIC TABLE $database.$schema."DASHBOARD_PORTFOLIO_PNL" TO ROLE $reader_role;
