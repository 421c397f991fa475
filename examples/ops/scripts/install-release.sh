#!/usr/bin/env bash
# install-release.sh: install web VERSION into releases/, apply its database
# "migration", and switch `current` to it atomically.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_PARAM_VERSION, DAYOPS_RUN_ID, DAYOPS_ACTOR.
# Outputs: previous (the version that was active, or "none"), installed.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"
require_provisioned "$dir" "$name"
version="${DAYOPS_PARAM_VERSION:-}"
[[ "$version" =~ $VERSION_RE ]] || die "parameter version must look like v1.2.3, got '$version'"

# Remember what to go back to before changing anything.
previous="$(active_version "$dir")"
note="$(state_file "$dir" previous)"
if [[ -n "$note" ]]; then
	mkdir -p -- "$dir/state"
	printf '%s\n' "$previous" >"$note"
fi
output previous "$previous"
log "active release in $name: $previous"

release="$dir/releases/$version"
if [[ -d "$release" ]]; then
	# Installing again clears a fault left by an earlier simulated failure.
	rm -f -- "$release/BROKEN"
	log "release $version is already installed: reusing it"
else
	mkdir -p -- "$dir/releases"
	tmp="$(mktemp -d -- "$dir/releases/.tmp-$version.XXXXXX")"
	printf '%s\n' "$version" >"$tmp/VERSION"
	{
		echo "web $version"
		echo "installed $(date -u +%Y-%m-%dT%H:%M:%SZ) by ${DAYOPS_ACTOR:-$(id -un)} (run ${DAYOPS_RUN_ID:-local})"
	} >"$tmp/app.txt"
	chmod 755 -- "$tmp"
	mv -T -- "$tmp" "$release"
	log "installed release $version into $release"
fi

# The release's schema change: rollback undoes it by restoring the backup.
echo "migration $version: applied $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$dir/db/data.txt"
log "applied the database migration of $version"

switch_current "$dir" "$version"
app_log "$dir" "switched from $previous to $version"
log "current -> releases/$version"
output installed "$version"
