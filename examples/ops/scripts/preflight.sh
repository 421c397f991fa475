#!/usr/bin/env bash
# preflight.sh: read-only checks before anything changes an environment.
# Reports every problem it finds, then fails if there was any.
#
# Reads: ENVS_DIR, DAYOPS_ENV, DAYOPS_PARAM_MIN_FREE_MB (default 100).
set -euo pipefail
. "$(dirname -- "$0")/lib.sh"

name="$(target_env)"
dir="$(env_dir "$name")"
min_free_mb="$(positive_int min_free_mb "${DAYOPS_PARAM_MIN_FREE_MB:-100}")"

problems=0
problem() {
	echo "FAIL  $*" >&2
	problems=$((problems + 1))
}
ok() {
	echo "ok    $*"
}

# Tools the example scripts use.
tools=(awk bash cat chmod cp cut date df dirname du grep head id ln ls mkdir mktemp mv readlink rm tail tr wc)
missing=()
for tool in "${tools[@]}"; do
	command -v -- "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
	problem "missing tools: ${missing[*]}"
else
	ok "tools: ${tools[*]}"
fi
# Switching releases atomically needs `mv -T` (GNU coreutils or BusyBox).
if mv --help 2>&1 | grep -q -e '-T'; then
	ok "mv supports -T (atomic release switch)"
else
	problem "mv does not support -T: install GNU coreutils"
fi

# Free space where the environment lives (or would live).
probe="$dir"
while [[ ! -d "$probe" && "$probe" == /* && "$probe" != / ]]; do
	probe="$(dirname -- "$probe")"
done
free_kb="$(df -Pk -- "$probe" | awk 'NR == 2 { print $4 }')"
if [[ ! "$free_kb" =~ ^[0-9]+$ ]]; then
	problem "could not read free disk space of $probe"
elif ((free_kb / 1024 < 10#$min_free_mb)); then
	problem "only $((free_kb / 1024)) MB free on $probe; need at least $min_free_mb MB (parameter min_free_mb)"
else
	ok "$((free_kb / 1024)) MB free on $probe (need $min_free_mb MB)"
fi

# The environment folder.
if [[ -d "$dir" && -f "$dir/db/data.txt" ]]; then
	ok "environment $name exists at $dir"
else
	problem "environment $name is not provisioned ($dir): run /ops run provision-env $name first"
fi

if ((problems > 0)); then
	echo "preflight for $name: $problems problem(s)" >&2
	exit 1
fi
echo "preflight for $name: all checks passed"
