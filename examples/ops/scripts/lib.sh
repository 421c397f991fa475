#!/usr/bin/env bash
# lib.sh: helpers shared by the example scripts. Source it, do not run it:
#
#   . "$(dirname -- "$0")/lib.sh"
#
# Conventions (see ../README.md):
#   ENVS_DIR          folder holding the example environments, passed by each
#                     definition as env: {ENVS_DIR: '${{ vars.ENVS_DIR }}'}.
#                     It must be set and absolute; there is no default.
#   DAYOPS_ENV        the environment of the run (staging, production).
#   DAYOPS_PARAM_*    the run's parameters.
#   DAYOPS_OUTPUT     file to which a step writes key=value outputs.
#   DAYOPS_RUN_ID     the run's id, used to name per-run state files.
#
# Environment layout, all plain files:
#   ENVS_DIR/ENV/releases/VERSION/   VERSION + app.txt of one release
#   ENVS_DIR/ENV/current             symlink to releases/VERSION (the active one)
#   ENVS_DIR/ENV/db/data.txt         the "database"
#   ENVS_DIR/ENV/backups/            copies of data.txt
#   ENVS_DIR/ENV/logs/app.log        the application log
#   ENVS_DIR/ENV/run/web.pid         the "process"
#   ENVS_DIR/ENV/state/              per-run notes a rollback can read

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	echo "lib.sh is a library: source it from another script" >&2
	exit 2
fi

set -euo pipefail
# A failure inside $(...) must stop the script too, not hand back "".
shopt -s inherit_errexit
# Globs and sort order must not depend on the caller's locale.
export LC_ALL=C

# The patterns below repeat the definitions' parameter patterns: dayops checks
# them before a run starts, and the scripts check them again so that running a
# script by hand is just as safe.
readonly ENV_NAME_RE='^[a-z0-9][a-z0-9-]*$'
readonly VERSION_RE='^v[0-9]+\.[0-9]+\.[0-9]+$'
readonly FILE_NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]*$'
readonly RUN_ID_RE='^[A-Za-z0-9_-]+$'

die() {
	echo "error: $*" >&2
	exit 1
}

log() {
	echo "$*"
}

# now prints a UTC timestamp that sorts as text and is safe in file names.
now() {
	date -u +%Y%m%dT%H%M%SZ
}

# envs_dir checks ENVS_DIR and prints it.
envs_dir() {
	local dir="${ENVS_DIR:-}"
	if [[ -z "$dir" ]]; then
		die "ENVS_DIR is not set: run inside \`dayops demo\` or set DAYOPS_VAR_ENVS_DIR (the server variable vars.ENVS_DIR) to an absolute folder"
	fi
	if [[ "$dir" != /* ]]; then
		die "ENVS_DIR must be an absolute path, got: $dir"
	fi
	if [[ "$dir" == *$'\n'* ]]; then
		die "ENVS_DIR must not contain a newline"
	fi
	printf '%s\n' "${dir%/}"
}

# check_env_name NAME fails unless NAME is a safe environment name.
check_env_name() {
	local name="$1"
	[[ "$name" =~ $ENV_NAME_RE ]] || die "bad environment name '$name': it must match $ENV_NAME_RE"
}

# target_env prints the run's environment (DAYOPS_ENV), checked.
target_env() {
	local name="${DAYOPS_ENV:-}"
	[[ -n "$name" ]] || die "DAYOPS_ENV is not set: this definition needs an environment (staging or production)"
	check_env_name "$name"
	printf '%s\n' "$name"
}

# env_dir NAME prints the folder of environment NAME (which may not exist).
env_dir() {
	local root
	check_env_name "$1"
	root="$(envs_dir)"
	printf '%s/%s\n' "$root" "$1"
}

# require_provisioned DIR NAME fails with a hint unless DIR is a provisioned
# environment folder.
require_provisioned() {
	local dir="$1" name="$2"
	if [[ ! -d "$dir" || ! -f "$dir/db/data.txt" ]]; then
		die "environment $name is not provisioned ($dir is missing or incomplete): run /ops run provision-env $name first"
	fi
}

# output KEY VALUE records a step output for later steps (${{ steps.ID.outputs.KEY }}).
output() {
	local key="$1" value="$2"
	[[ "$value" != *$'\n'* ]] || die "output $key must be a single line"
	if [[ -n "${DAYOPS_OUTPUT:-}" ]]; then
		printf '%s=%s\n' "$key" "$value" >>"$DAYOPS_OUTPUT"
	fi
	echo "output: $key=$value"
}

# run_tag prints a file-name-safe tag for this run: the run id, or the shell's
# pid when the script runs outside dayops.
run_tag() {
	local id="${DAYOPS_RUN_ID:-}"
	if [[ -n "$id" && "$id" =~ $RUN_ID_RE ]]; then
		printf 'r%s\n' "$id"
	else
		printf 'p%s\n' "$$"
	fi
}

# state_file DIR KEY prints the path of this run's note KEY, or nothing when
# the run has no usable id (then there is no per-run state).
state_file() {
	local dir="$1" key="$2" id="${DAYOPS_RUN_ID:-}"
	if [[ -n "$id" && "$id" =~ $RUN_ID_RE ]]; then
		printf '%s/state/deploy-%s.%s\n' "$dir" "$id" "$key"
	fi
}

# app_log DIR MESSAGE appends a line to the environment's application log.
app_log() {
	local dir="$1"
	shift
	mkdir -p -- "$dir/logs"
	printf '%s [web] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$dir/logs/app.log"
}

# active_version DIR prints the version `current` points to, or "none".
active_version() {
	local dir="$1" target
	if [[ -L "$dir/current" ]]; then
		target="$(readlink -- "$dir/current")"
		printf '%s\n' "${target##*/}"
	else
		printf 'none\n'
	fi
}

# switch_current DIR VERSION points `current` at releases/VERSION atomically:
# a new symlink is made beside it and renamed over it, so a reader sees either
# the old release or the new one, never nothing.
switch_current() {
	local dir="$1" version="$2" tmp
	[[ "$version" =~ $VERSION_RE ]] || die "bad version '$version'"
	[[ -f "$dir/releases/$version/VERSION" ]] || die "release $version is not installed in $dir/releases"
	tmp="$dir/.current.$$"
	rm -f -- "$tmp"
	ln -s -- "releases/$version" "$tmp"
	mv -T -- "$tmp" "$dir/current"
}

# backup_db DIR prints the name of a new copy of DIR/db/data.txt in DIR/backups.
backup_db() {
	local dir="$1" name tmp
	mkdir -p -- "$dir/backups"
	name="data-$(now)-$(run_tag).txt"
	# Two backups in the same second of the same run get a counter.
	local n=1 base="${name%.txt}"
	while [[ -e "$dir/backups/$name" ]]; do
		n=$((n + 1))
		name="$base-$n.txt"
	done
	tmp="$(mktemp -- "$dir/backups/.tmp.XXXXXX")"
	cp -- "$dir/db/data.txt" "$tmp"
	mv -- "$tmp" "$dir/backups/$name"
	printf '%s\n' "$name"
}

# prune_backups DIR KEEP deletes all but the newest KEEP backups.
prune_backups() {
	local dir="$1" keep="$2"
	local -a files=()
	local f
	shopt -s nullglob
	files=("$dir"/backups/data-*.txt)
	shopt -u nullglob
	# Names start with a UTC timestamp, so glob order (C locale) is age order.
	local excess=$((${#files[@]} - keep))
	local i
	for ((i = 0; i < excess; i++)); do
		f="${files[i]}"
		rm -f -- "$f"
		log "pruned old backup ${f##*/}"
	done
}

# backup_path DIR NAME checks that NAME is a plain backup file of DIR and
# prints its path. It refuses anything that could leave the backups folder.
backup_path() {
	local dir="$1" name="$2" path
	if [[ ! "$name" =~ $FILE_NAME_RE ]]; then
		die "refusing backup name '$name': use a plain file name from backups/ (letters, digits, '.', '_', '-'; no '/', not starting with '.')"
	fi
	path="$dir/backups/$name"
	[[ ! -L "$path" ]] || die "refusing backup $name: it is a symlink"
	[[ -f "$path" ]] || die "no backup named $name in $dir/backups (list them with /ops run diagnose-web)"
	printf '%s\n' "$path"
}

# restore_db DIR NAME replaces DIR/db/data.txt with backup NAME atomically.
restore_db() {
	local dir="$1" name="$2" src tmp
	src="$(backup_path "$dir" "$name")"
	tmp="$(mktemp -- "$dir/db/.restore.XXXXXX")"
	cp -- "$src" "$tmp"
	mv -- "$tmp" "$dir/db/data.txt"
}

# positive_int NAME VALUE prints VALUE as a plain decimal number, or fails
# unless it is a whole number from 1 to 999999999 ("08" is 8, not octal).
positive_int() {
	local name="$1" value="$2"
	if [[ ! "$value" =~ ^[0-9]{1,9}$ ]] || ((10#$value < 1)); then
		die "$name must be a whole number from 1 to 999999999, got '$value'"
	fi
	printf '%d\n' "$((10#$value))"
}
