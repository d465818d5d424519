#!/bin/sh
# Runs a PostgreSQL client (psql, pg_dump, pg_restore) with the password from the compose
# secret, through a private password file: never an environment variable or an argument,
# which other processes and `docker inspect` could read.
set -eu
umask 077
printf '*:*:*:*:%s\n' "$(cat /run/secrets/db_password)" >/tmp/pgpass
export PGPASSFILE=/tmp/pgpass
exec "$@"
