-- Two roles, least privilege: the sync writes tables in one schema; readers only select.
CREATE ROLE IF NOT EXISTS $sync_role;
CREATE ROLE IF NOT EXISTS $reader_role;
GRANT USAGE ON WAREHOUSE $warehouse TO ROLE $sync_role;
GRANT USAGE ON WAREHOUSE $warehouse TO ROLE $reader_role;
GRANT USAGE ON DATABASE $database TO ROLE $sync_role;
GRANT USAGE ON DATABASE $database TO ROLE $reader_role;
GRANT USAGE ON SCHEMA $database.$schema TO ROLE $sync_role;
GRANT USAGE ON SCHEMA $database.$schema TO ROLE $reader_role;
-- The sync creates its targets, staging and control tables, and owns them; nothing outside this schema.
GRANT CREATE TABLE ON SCHEMA $database.$schema TO ROLE $sync_role;
GRANT SELECT ON FUTURE TABLES IN SCHEMA $database.$schema TO ROLE $reader_role;
GRANT SELECT ON FUTURE DYNAMIC TABLES IN SCHEMA $database.$schema TO ROLE $reader_role;
