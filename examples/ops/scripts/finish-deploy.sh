#!/usr/bin/env bash
# finish-deploy.sh: last step of a successful deploy-web run: log it and
# drop the run's rollback notes, which are no longer needed.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_PARAM_VERSION, DAYOPS_RUN_ID, DAYOPS_ACTOR.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"
version="$(active_version "$dir")"
for key in previous backup; do
	note="$(state_file "$dir" "$key")"
	[[ -z "$note" ]] || rm -f -- "$note"
done
app_log "$dir" "deploy of $version finished by ${DAYOPS_ACTOR:-$(id -un)} (run ${DAYOPS_RUN_ID:-local})"
log "web $version is live in $name"
