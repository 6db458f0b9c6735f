#!/bin/sh
# The warehouse's database and roles. The postgres image runs this once, as its superuser, when the data
# volume is first initialised (/docker-entrypoint-initdb.d); tests/ops runs the same file against a local
# server. Names come from the environment so a test can use unique ones; passwords must be given.
#
#   LOFTE_DB                (default lofte)    the warehouse database, owned by the writer
#   LOFTE_DB_USER           (default lofte)    the writer: lofte's nightly and backfill runs, migrations
#   LOFTE_ANALYST_USER      (default analyst)  read-only: SELECT on the warehouse's tables and views
#   LOFTE_DB_PASSWORD, LOFTE_ANALYST_PASSWORD  required
#
# The analyst's SELECT also covers tables and views the writer creates later (ALTER DEFAULT PRIVILEGES),
# so every migration must run as the writer. No `set -u`/`exit`: the image may source this file.
set -e

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
  --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
  -v warehouse_db="${LOFTE_DB:-lofte}" \
  -v writer="${LOFTE_DB_USER:-lofte}" \
  -v writer_password="${LOFTE_DB_PASSWORD:?LOFTE_DB_PASSWORD must be set}" \
  -v analyst="${LOFTE_ANALYST_USER:-analyst}" \
  -v analyst_password="${LOFTE_ANALYST_PASSWORD:?LOFTE_ANALYST_PASSWORD must be set}" <<'SQL'
-- psql quotes :"name" as an identifier and :'value' as a literal: passwords never reach the shell's parser.
CREATE ROLE :"writer" LOGIN PASSWORD :'writer_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE :"analyst" LOGIN PASSWORD :'analyst_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT;
-- A guard for analysts' tools; the privileges below are what actually forbid writes.
ALTER ROLE :"analyst" SET default_transaction_read_only = on;
-- A forgotten notebook or a runaway query ends by itself. lofte's runs do not depend on these (the
-- analyst may SET them in a session): its writes never wait on a reader for long (docs/operations.md).
ALTER ROLE :"analyst" SET idle_in_transaction_session_timeout = '10min';
ALTER ROLE :"analyst" SET statement_timeout = '30min';

CREATE DATABASE :"warehouse_db" OWNER :"writer" ENCODING 'UTF8' TEMPLATE template0;
-- Only the two roles may connect, and nobody but the owner gets temporary tables.
REVOKE ALL ON DATABASE :"warehouse_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"warehouse_db" TO :"analyst";

\connect :"warehouse_db"
-- The writer owns the schema it migrates (on PostgreSQL < 15 `public` belongs to the superuser and
-- PUBLIC may create in it); the analyst may look up names in it and nothing more.
ALTER SCHEMA public OWNER TO :"writer";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"analyst";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"analyst";
ALTER DEFAULT PRIVILEGES FOR ROLE :"writer" IN SCHEMA public GRANT SELECT ON TABLES TO :"analyst";
-- Large objects live outside every table's privileges: by default any role may create them
-- (lo_from_bytea, lo_creat, lo_import's client side) and fill the warehouse's disk, read-only session or
-- not. Nobody but the superuser keeps the functions in this database; lofte uses none of them.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace
      AND (p.proname LIKE 'lo\_%' OR p.proname IN ('loread', 'lowrite'))
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
SQL
