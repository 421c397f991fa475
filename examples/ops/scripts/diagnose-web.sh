#!/usr/bin/env bash
# diagnose-web.sh: read-only report on the web service of every example
# environment (or of one): active release, health, disk, database, backups and
# the last log lines. Changes nothing, so incidents and alerts may run it
# automatically. Unhealthy environments are reported, not treated as errors.
#
# Reads: ENVS_DIR, DAYOPS_PARAM_ENVIRONMENT ("all" or one name; default all),
#        DEMO_URL (optional: also asks the demo's health endpoint).
# Outputs: summary.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

root="$(envs_dir)"
only="${DAYOPS_PARAM_ENVIRONMENT:-all}"
declare -a names=()
if [[ "$only" == all ]]; then
	shopt -s nullglob
	for d in "$root"/*/; do
		d="${d%/}"
		names+=("${d##*/}")
	done
	shopt -u nullglob
	((${#names[@]} > 0)) || die "no environments in $root: run /ops run provision-env staging first"
else
	check_env_name "$only"
	[[ -d "$root/$only" ]] || die "no environment $only in $root: run /ops run provision-env $only first"
	names=("$only")
fi

summary=()
for name in "${names[@]}"; do
	if [[ ! "$name" =~ $ENV_NAME_RE ]]; then
		log "skipping $root/$name: not an environment name"
		continue
	fi
	dir="$root/$name"
	echo "=== $name ($dir)"
	version="$(active_version "$dir")"
	releases="$({ ls -1 -- "$dir/releases" 2>/dev/null || true; } | tr '\n' ' ')"
	echo "active release: $version   installed: ${releases:-none}"

	if [[ "$version" == none ]]; then
		health="nothing deployed"
	elif [[ ! -f "$dir/current/VERSION" ]]; then
		health="unhealthy: current/VERSION is missing"
	elif [[ -f "$dir/current/BROKEN" ]]; then
		health="unhealthy: BROKEN: $(head -n 1 -- "$dir/current/BROKEN")"
	else
		health="healthy"
	fi
	echo "health (files): $health"
	if [[ -n "${DEMO_URL:-}" ]] && command -v curl >/dev/null 2>&1; then
		resp="$(curl -sS --max-time 3 -w '\n%{http_code}' --url "$DEMO_URL/envs/$name/healthz" 2>&1 || true)"
		code="${resp##*$'\n'}"
		body="${resp%$'\n'*}"
		echo "health (http):  HTTP $code ${body%%$'\n'*}"
	fi
	summary+=("$name: $version, $health")

	echo "disk: $(du -sh -- "$dir" | cut -f1) used by the environment; $(df -Ph -- "$dir" | awk 'NR == 2 { print $4 " free on " $6 }')"
	if [[ -f "$dir/db/data.txt" ]]; then
		echo "database: $(wc -l <"$dir/db/data.txt") lines; last: $(tail -n 1 -- "$dir/db/data.txt")"
	else
		echo "database: missing ($dir/db/data.txt)"
	fi
	backups="$({ ls -1 -- "$dir/backups" 2>/dev/null || true; } | tail -n 3 | tr '\n' ' ')"
	echo "backups: $({ ls -1 -- "$dir/backups" 2>/dev/null || true; } | wc -l) (newest: ${backups:-none})"
	echo "pid: $(head -n 1 -- "$dir/run/web.pid" 2>/dev/null || echo none)"
	echo "--- last 20 lines of logs/app.log"
	tail -n 20 -- "$dir/logs/app.log" 2>/dev/null || echo "(no log)"
	echo
done

echo "summary:"
printf '  %s\n' "${summary[@]}"
joined="$(printf '%s; ' "${summary[@]}")"
output summary "${joined%; }"
