#!/bin/sh
# The official nginx image's entrypoint contract: when the command is nginx, run the
# scripts in /docker-entrypoint.d in order (*.envsh are sourced, so they can export
# variables; *.sh are executed), then exec the command so nginx is PID 1.
set -e

say() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then echo "$0: $*"; fi
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for script in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
        [ -x "$script" ] || { say "ignoring $script (not executable)"; continue; }
        case "$script" in
            *.envsh) say "sourcing $script"; . "$script" ;;
            *.sh) say "running $script"; "$script" ;;
            *) say "ignoring $script" ;;
        esac
    done
    say "configuration complete; ready for start up"
fi

exec "$@"
