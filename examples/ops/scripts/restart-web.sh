#!/usr/bin/env bash
# restart-web.sh: "restart" the web service of an environment: log the stop
# and start, and write a fresh pid file.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_ACTOR, DAYOPS_RUN_ID.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"
require_provisioned "$dir" "$name"
version="$(active_version "$dir")"
[[ "$version" != none ]] || die "nothing is deployed in $name: run /ops deploy web $name VERSION first"

mkdir -p -- "$dir/run"
old="none"
[[ ! -f "$dir/run/web.pid" ]] || old="$(head -n 1 -- "$dir/run/web.pid")"
app_log "$dir" "stopping web $version (pid $old) for a restart requested by ${DAYOPS_ACTOR:-$(id -un)} (run ${DAYOPS_RUN_ID:-local})"
# A made-up pid: nothing really runs in the example environments.
pid=$((RANDOM + 1000))
tmp="$(mktemp -- "$dir/run/.pid.XXXXXX")"
printf '%s\n' "$pid" >"$tmp"
mv -- "$tmp" "$dir/run/web.pid"
app_log "$dir" "started web $version (pid $pid)"
log "restarted web $version in $name: pid $old -> $pid"
output pid "$pid"
