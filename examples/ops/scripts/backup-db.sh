#!/usr/bin/env bash
# backup-db.sh: copy the environment's database into backups/ under a
# timestamped name, then keep only the newest KEEP backups.
#
#   backup-db.sh [--for-rollback]
#
# --for-rollback also notes the backup in a per-run state file, so that the
# deploy's rollback finds it even when step outputs are not available.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_PARAM_KEEP (default 5), DAYOPS_RUN_ID.
# Outputs: backup (full path), backup_name (file name in backups/).
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

for_rollback=false
case "${1:-}" in
"") ;;
--for-rollback) for_rollback=true ;;
*) die "usage: backup-db.sh [--for-rollback]" ;;
esac

name="$(target_env)"
dir="$(env_dir "$name")"
require_provisioned "$dir" "$name"
keep="$(positive_int keep "${DAYOPS_PARAM_KEEP:-5}")"

backup="$(backup_db "$dir")"
log "backed up $dir/db/data.txt ($(wc -l <"$dir/backups/$backup") lines) to backups/$backup"
app_log "$dir" "database backed up to $backup"
prune_backups "$dir" "$keep"

if $for_rollback; then
	note="$(state_file "$dir" backup)"
	if [[ -n "$note" ]]; then
		mkdir -p -- "$dir/state"
		printf '%s\n' "$backup" >"$note"
	fi
fi

output backup "$dir/backups/$backup"
output backup_name "$backup"
