#!/usr/bin/env bash
# Phase medians of one nucleus command (issue 15): bench/phases.sh BIN [ARGS...]
# runs `NUCLEUS_TRACE=1 BIN ARGS` N times (default 30) and prints, for each
# phase mark (nucleus, its sandbox init, and this script's own "launch"
# just before exec and "reaped" after the process is waited for), the
# median time since the mark before it, in the order the marks come.
# "cli: main" after "launch" is the binary's start (exec, Go runtime,
# package init); "reaped" after "cli: done" is its exit. ARGS may contain
# the word ROOT, replaced by a temporary state root (default ARGS:
# run --root ROOT --rm -- /bin/true). Needs root only for what ARGS need.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/phases.sh BIN [ARGS...]" >&2; exit 2; }
BIN=$1
shift
[ $# -gt 0 ] || set -- run --root ROOT --rm -- /bin/true
N=${N:-30}
WORK=$(mktemp -d /tmp/nucleus-phases.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
args=("${@//ROOT/$WORK/root}")
"$BIN" "${args[@]}" </dev/null >/dev/null 2>"$WORK/err" || { echo "failed:"; cat "$WORK/err"; exit 1; }

# One run's marks as "ms-within-the-second<TAB>what", launch and reaped
# from $EPOCHREALTIME (no fork inside the measured span).
run_once() {
	(
		export NUCLEUS_TRACE=1
		printf '[L %s] launch\n' "$EPOCHREALTIME" >&2
		exec "$BIN" "${args[@]}"
	) </dev/null >/dev/null 2>"$WORK/err" || true
	printf '[L %s] reaped\n' "$EPOCHREALTIME" >>"$WORK/err"
	awk '/^\[L [0-9]+\.[0-9]+\] / { t = $2; sub(/\]$/, "", t); sub(/^[0-9]+\./, "", t); $1 = $2 = ""; sub(/^ +/, ""); printf "%.3f\t%s\n", t / 1000, $0; next }
	     /^\[[0-9]+ +[0-9.]+ms\] / { t = $0; sub(/^\[[0-9]+ +/, "", t); sub(/ms\].*/, "", t); w = $0; sub(/^[^]]*\] /, "", w); printf "%s\t%s\n", t, w }' "$WORK/err"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 0; i < N; i++)); do
	# Marks are ms within the current second: unwrap against the launch,
	# sort by time, emit each phase's delta and its place in the run.
	run_once | awk -F'\t' 'NR == 1 { base = $1 } { t = $1 + 0; if (t < base - 500) t += 1000; print t "\t" $2 }' |
		sort -n -k1,1 | awk -F'\t' -v run="$i" 'NR > 1 { print $2 "\t" $1 - p "\t" NR } { p = $1 } NR == 1 { first = $1 } END { print "TOTAL (launch to reaped)\t" p - first "\t" 999 }'
done >"$WORK/deltas"

printf 'phase (ends at)                   median ms  runs   (%s runs of %s %s, load %s)\n' "$N" "$BIN" "$*" "$load"
awk -F'\t' '{ n[$1]++; v[$1, n[$1]] = $2; r[$1] += $3 }
	END {
		for (k in n) {
			m = n[k]
			for (i = 2; i <= m; i++) { x = v[k, i]; for (j = i - 1; j >= 1 && v[k, j] > x; j--) v[k, j + 1] = v[k, j]; v[k, j + 1] = x }
			med = (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
			printf "%08.3f\t%-32s %8.3f  %4d\n", r[k] / m, k, med, m
		}
	}' "$WORK/deltas" | sort -n | cut -f2-
