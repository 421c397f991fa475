#!/usr/bin/env bash
# simulate-failure.sh: when the parameter simulate_failure is true, mark the
# active release BROKEN so that its health check fails and the deploy rolls
# back. Does nothing otherwise.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_PARAM_SIMULATE_FAILURE.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

case "${DAYOPS_PARAM_SIMULATE_FAILURE:-false}" in
false)
	log "simulate_failure=false: nothing to do"
	exit 0
	;;
true) ;;
*) die "simulate_failure must be true or false, got '${DAYOPS_PARAM_SIMULATE_FAILURE}'" ;;
esac

name="$(target_env)"
dir="$(env_dir "$name")"
version="$(active_version "$dir")"
[[ "$version" != none ]] || die "nothing is deployed in $name"
echo "simulated failure (run ${DAYOPS_RUN_ID:-local})" >"$dir/releases/$version/BROKEN"
app_log "$dir" "ERROR release $version is failing health checks (simulated)"
log "marked release $version BROKEN: the health check will now fail"
