#!/usr/bin/env bash
# restore-db.sh: replace the environment's database with a backup from
# backups/. The current database is backed up first, so a restore can itself
# be undone.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_PARAM_BACKUP (a file name in backups/).
# Outputs: restored_from, safety_backup.
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"
require_provisioned "$dir" "$name"
wanted="${DAYOPS_PARAM_BACKUP:-}"
[[ -n "$wanted" ]] || die "parameter backup is required: the file name of a backup in backups/"
# backup_path refuses '/', '..', a leading '.', symlinks and missing files.
src="$(backup_path "$dir" "$wanted")"

# Copy the chosen backup next to the database first, so that the database is
# then replaced by one rename and is never half written.
tmp="$(mktemp -- "$dir/db/.restore.XXXXXX")"
cp -- "$src" "$tmp"
safety="$(backup_db "$dir")"
log "saved the current database as backups/$safety"
mv -- "$tmp" "$dir/db/data.txt"
app_log "$dir" "database restored from $wanted (previous content saved as $safety)"
log "restored $dir/db/data.txt from backups/$wanted"
output restored_from "$wanted"
output safety_backup "$safety"
