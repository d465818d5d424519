#!/bin/sh
# Render every $NGINX_ENVSUBST_TEMPLATE_DIR/**/*.template into $NGINX_ENVSUBST_OUTPUT_DIR
# (default: /etc/nginx/templates -> /etc/nginx/conf.d), keeping subdirectories.
# Only variables that are set (and match NGINX_ENVSUBST_FILTER, a regex) are replaced, so
# nginx's own variables such as $host or $uri pass through untouched.
set -e

template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
    echo "$0: $output_dir is not writable; templates not rendered" >&2
    exit 0
fi

names=$(awk -v filter="$filter" 'END { for (name in ENVIRON) if (name ~ filter) print name }' </dev/null)
defined=$(printf '${%s} ' $names)

find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative="${template#"$template_dir/"}"
    output="$output_dir/${relative%"$suffix"}"
    mkdir -p "$(dirname "$output")"
    echo "$0: rendering $template to $output"
    envsubst "$defined" <"$template" >"$output"
done
