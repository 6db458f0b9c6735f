#!/bin/sh
# The superuser never logs in over the published port: only from inside the container (the socket, or
# TCP from 127.0.0.1 as the healthcheck does). The writer and the analyst keep the image's password rule,
# so LOFTE_DB_BIND=0.0.0.0 publishes those two roles and not the superuser. Administration:
# `docker compose exec warehouse-db psql -U postgres`.
#
# Run once by the postgres image at first initialisation, after it wrote pg_hba.conf and before the
# server's final start, which reads the file. PG_HBA names another file (tests).
set -e

hba="${PG_HBA:-${PGDATA:?PGDATA must be set}/pg_hba.conf}"
superuser="${POSTGRES_USER:-postgres}"
rules="host all ${superuser} 127.0.0.1/32 scram-sha-256
host all ${superuser} ::1/128 scram-sha-256
host all ${superuser} all reject"
# pg_hba.conf is read top-down and the first matching line decides: these go before every host line.
{ printf '%s\n' "# lofte: the superuser only from inside the container" "$rules"; cat "$hba"; } > "$hba.new"
mv "$hba.new" "$hba"
