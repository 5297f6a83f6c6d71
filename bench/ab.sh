#!/usr/bin/env bash
# A/B of two nucleus builds (issue 15): bench/ab.sh A_BIN B_BIN [ARGS...]
# runs `BIN ARGS` (default: version) N times each (default 40), alternating
# A and B in every round so machine noise hits both alike, and prints both
# medians and B/A. ARGS may contain the word ROOT, replaced by a temporary
# state root per binary (for run and exec; each binary's nucleus-init is
# found beside it). Needs root only for what ARGS need.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/ab.sh A_BIN B_BIN [ARGS...]" >&2; exit 2; }
A=$1 B=$2
shift 2
[ $# -gt 0 ] || set -- version
N=${N:-40}
WORK=$(mktemp -d /tmp/nucleus-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
argsA=("${@//ROOT/$WORK/a}")
argsB=("${@//ROOT/$WORK/b}")
run_a() { "$A" "${argsA[@]}" </dev/null; }
run_b() { "$B" "${argsB[@]}" </dev/null; }
for t in a b; do
	"run_$t" >/dev/null 2>"$WORK/err" || { echo "$t failed:"; cat "$WORK/err"; exit 1; }
done
. bench/lib.sh
declare -A samples
load=$(cut -d' ' -f1-3 /proc/loadavg)
time_rounds "$N" a b
ma=$(echo "${samples[a]}" | median_us)
mb=$(echo "${samples[b]}" | median_us)
printf 'A %s: %.2f ms  B %s: %.2f ms  B/A %s  (%s rounds, args: %s, load %s)\n' \
	"$A" "$(awk -v u="$ma" 'BEGIN{print u/1000}')" "$B" "$(awk -v u="$mb" 'BEGIN{print u/1000}')" \
	"$(ratio "$mb" "$ma")" "$N" "$*" "$load"
