#!/usr/bin/env bash
# provision-env.sh: create an environment's folder layout and an initial
# database. Idempotent: what exists already is left as it is.
#
# Reads: ENVS_DIR, DAYOPS_ENV.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"

for sub in releases db backups logs run state; do
	if [[ -d "$dir/$sub" ]]; then
		log "exists   $dir/$sub/"
	else
		mkdir -p -- "$dir/$sub"
		log "created  $dir/$sub/"
	fi
done

if [[ -f "$dir/db/data.txt" ]]; then
	log "exists   $dir/db/data.txt ($(wc -l <"$dir/db/data.txt") lines): left unchanged"
else
	tmp="$(mktemp -- "$dir/db/.init.XXXXXX")"
	{
		echo "# web database for $name (a plain-text stand-in for the example)"
		echo "created $(date -u +%Y-%m-%dT%H:%M:%SZ) by ${DAYOPS_ACTOR:-$(id -un)}"
		echo "migration 0: initial schema"
	} >"$tmp"
	mv -- "$tmp" "$dir/db/data.txt"
	log "created  $dir/db/data.txt"
fi

if [[ ! -f "$dir/logs/app.log" ]]; then
	: >"$dir/logs/app.log"
	log "created  $dir/logs/app.log"
fi
app_log "$dir" "environment $name provisioned"

output path "$dir"
log "environment $name is ready at $dir"
