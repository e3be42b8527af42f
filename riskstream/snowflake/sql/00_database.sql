-- Database and schema the sync writes gold tables into.
CREATE DATABASE IF NOT EXISTS $database;
CREATE SCHEMA IF NOT EXISTS $database.$schema;
-- Which roles may see which desk's rows (read by the row access policy). Maintained by the data owners.
CREATE TABLE IF NOT EXISTS $database.$schema."DESK_ACCESS" ("ROLE_NAME" VARCHAR NOT NULL, "DESK" VARCHAR NOT NULL);
