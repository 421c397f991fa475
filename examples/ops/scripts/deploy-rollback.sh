#!/usr/bin/env bash
# deploy-rollback.sh: undo a failed deploy-web run: point `current` back to
# the release that was active before it and restore the database backup the
# run took. Only this run's own notes are used, so a run that failed before
# installing anything leaves the environment as it is.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_RUN_ID,
#        PREVIOUS (steps.install.outputs.previous), BACKUP (steps.backup.outputs.backup);
#        when those are empty, this run's notes in state/.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"
if [[ ! -d "$dir" ]]; then
  log "environment folder $dir does not exist: this run changed nothing, nothing to roll back"
  exit 0
fi

# read_note KEY prints this run's note KEY, if there is one.
read_note() {
	local note
	note="$(state_file "$dir" "$1")"
	if [[ -n "$note" && -f "$note" ]]; then
		head -n 1 -- "$note"
	fi
}

previous="${PREVIOUS:-}"
[[ -n "$previous" ]] || previous="$(read_note previous)"
backup="${BACKUP:-}"
[[ -n "$backup" ]] || backup="$(read_note backup)"
# The output is a full path, the note a file name: either must name a file
# directly inside this environment's backups/.
backup_name="${backup##*/}"
if [[ -n "$backup" && "$backup" == */* && "$backup" != "$dir/backups/$backup_name" ]]; then
	die "refusing to restore $backup: it is not in $dir/backups"
fi

# 1. The release.
active="$(active_version "$dir")"
if [[ -z "$previous" ]]; then
	log "release: the install step did not run in this run; $active stays active"
elif [[ "$previous" == none ]]; then
	rm -f -- "$dir/current"
	log "release: nothing was active before this deploy; removed current (was $active)"
	app_log "$dir" "rollback: removed release $active"
elif [[ ! "$previous" =~ $VERSION_RE ]]; then
	die "bad previous version '$previous'"
elif [[ "$previous" == "$active" ]]; then
	log "release: $active was already active before this deploy; nothing to switch"
else
	switch_current "$dir" "$previous"
	log "release: current -> releases/$previous (was $active)"
	app_log "$dir" "rollback: switched from $active back to $previous"
fi

# 2. The database.
if [[ -z "$backup" ]]; then
	log "database: no backup was taken in this run; left unchanged"
else
	restore_db "$dir" "$backup_name"
	log "database: restored from backups/$backup_name"
	app_log "$dir" "rollback: database restored from $backup_name"
fi

for key in previous backup; do
	note="$(state_file "$dir" "$key")"
	[[ -z "$note" ]] || rm -f -- "$note"
done
log "rollback of $name finished; active release: $(active_version "$dir")"
