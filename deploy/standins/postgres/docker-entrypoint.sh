#!/bin/bash
# The official postgres image's entrypoint interface, for Debian's PostgreSQL:
#   POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB / POSTGRES_INITDB_ARGS, each also as
#   *_FILE (Docker secrets), POSTGRES_HOST_AUTH_METHOD, PGDATA, and the scripts in
#   /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once, on an empty PGDATA.
# Started as root it only prepares PGDATA, then re-runs itself as postgres; postgres ends
# up as PID 1 (exec all the way), so it receives the stop signal itself.
set -Eeo pipefail

# VAR or VAR_FILE (a file holding the value), never both.
file_env() {
    local var="$1" default="${2:-}" file_var="${1}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        echo >&2 "error: both $var and $file_var are set; use one"
        exit 1
    fi
    local value="$default"
    if [ -n "${!var:-}" ]; then
        value="${!var}"
    elif [ -n "${!file_var:-}" ]; then
        value="$(<"${!file_var}")"
    fi
    export "$var"="$value"
    unset "$file_var"
}

# `docker run IMAGE -c shared_buffers=256MB` passes options to postgres.
if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

psql_run() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"
}

run_initdb() {
    local auth="$1"
    shift
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$POSTGRES_USER" --auth-local=trust --auth-host="$auth" "$@" \
        $POSTGRES_INITDB_ARGS
}

initialize() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
        echo >&2 "error: the database is uninitialized and no superuser password is set:"
        echo >&2 "  set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust)"
        exit 1
    fi

    # The password reaches initdb through a pipe, never a file or the command line.
    if [ -n "$POSTGRES_PASSWORD" ]; then
        run_initdb "$auth" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
    else
        run_initdb "$auth"
    fi
    # Accept connections from other containers, with the same authentication.
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"

    # A private server (Unix socket only) for the database and the init scripts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql_run --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    local script
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                echo "$0: running $script"
                if [ -x "$script" ]; then "$script"; else . "$script"; fi
                ;;
            *.sql) echo "$0: running $script"; psql_run --dbname "$POSTGRES_DB" -f "$script" ;;
            *.sql.gz) echo "$0: running $script"; gunzip -c "$script" | psql_run --dbname "$POSTGRES_DB" ;;
            *"/*") ;;  # empty directory
            *) echo "$0: ignoring $script" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "$0: PostgreSQL init process complete; ready for start up."
}

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialize
    # A password read from POSTGRES_PASSWORD_FILE must not follow the server into its
    # environment (/proc/1/environ): it is in the database now.
    unset POSTGRES_PASSWORD
fi

exec "$@"
