#!/bin/bash
# nginx's container healthcheck, with no curl in the image: bash's /dev/tcp asks the
# loopback-only status server (deploy/nginx/driftwood/http.conf) whether nginx answers.
set -eu
exec 3<>/dev/tcp/127.0.0.1/8081
printf 'GET /ping HTTP/1.0\r\n\r\n' >&3
read -r _ status _ <&3
[[ $status == 204 ]]
