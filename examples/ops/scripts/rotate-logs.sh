#!/usr/bin/env bash
# rotate-logs.sh: rotate logs/app.log of every example environment: move it
# to app.log.TIMESTAMP, start an empty one, keep the newest KEEP rotated files.
# Empty logs are not rotated. Runs on a schedule, so it takes no environment.
#
# Reads: ENVS_DIR, DAYOPS_PARAM_KEEP (default 7).
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

root="$(envs_dir)"
keep="$(positive_int keep "${DAYOPS_PARAM_KEEP:-7}")"
if [[ ! -d "$root" ]]; then
	log "no environments yet ($root does not exist): nothing to rotate"
	exit 0
fi

rotated=0
shopt -s nullglob
for d in "$root"/*/; do
	d="${d%/}"
	name="${d##*/}"
	[[ "$name" =~ $ENV_NAME_RE && -d "$d/logs" ]] || continue
	logfile="$d/logs/app.log"
	if [[ -s "$logfile" ]]; then
		target="$logfile.$(now)"
		n=1
		while [[ -e "$target" ]]; do
			n=$((n + 1))
			target="$logfile.$(now)-$n"
		done
		mv -- "$logfile" "$target"
		: >"$logfile"
		app_log "$d" "log rotated (previous lines in ${target##*/})"
		log "$name: rotated app.log -> ${target##*/}"
		rotated=$((rotated + 1))
	else
		log "$name: app.log is empty or missing: not rotated"
	fi
	# Timestamps sort as text, so glob order (C locale) is age order.
	old=("$d"/logs/app.log.*)
	for ((i = 0; i < ${#old[@]} - keep; i++)); do
		rm -f -- "${old[i]}"
		log "$name: removed ${old[i]##*/}"
	done
done
shopt -u nullglob
log "rotated $rotated log(s); keeping the newest $keep rotated files per environment"
