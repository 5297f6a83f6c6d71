#!/usr/bin/env bash
# Package initialisation cost of the nucleus binary (issue 15): runs
# `GODEBUG=inittrace=1 nucleus version` RUNS times (default 20), sums the
# clock time of every package's init per run and prints the median (and
# mean) total per run and the TOP (default 15) packages by median clock
# time. Go runs the init of every linked package before main, so this is
# start-up work every command pays. NUCLEUS_BIN names the binary (default
# bin/nucleus, built when missing). Needs no root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
no_args "$0" "$@"
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
TOP=${TOP:-15}
NUCLEUS=${NUCLEUS_BIN:-$PWD/bin/nucleus}
[ -x "$NUCLEUS" ] || make -s build
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 0; i < RUNS; i++)); do
	GODEBUG=inittrace=1 "$NUCLEUS" version 2>&1 >/dev/null | grep '^init ' >> "$out" || true
done
# Lines: init PKG @T ms, CLOCK ms clock, BYTES bytes, ALLOCS allocs; a
# run ends with `init main`. Medians, so that a run preempted by other
# load on the machine does not move the figures.
awk -v runs="$RUNS" -v top="$TOP" '
	function median(list,    v, n, i, j, t) {
		n = split(list, v, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	{ clock[$2] = clock[$2] " " $5; bytes[$2] += $8; allocs[$2] += $10; total += $5; tb += $8; ta += $10; n++ }
	$2 == "main" { totals = totals " " total }
	END {
		# per-run totals: differences of the running sum at each `init main`
		m = split(totals, cum, " "); list = ""
		for (i = 1; i <= m; i++) list = list " " (cum[i] - (i > 1 ? cum[i - 1] : 0))
		printf "binary init, %d runs: median %.2f ms clock per run (mean %.2f), %d packages with init, %.0f kB, %.0f allocs\n",
			runs, median(list), total / runs, n / runs, tb / runs / 1024, ta / runs
		printf "top %d packages by median init clock:\n", top
		for (p in clock) printf "%8.3f ms %8.0f kB %7.0f allocs  %s\n", median(clock[p]), bytes[p] / runs / 1024, allocs[p] / runs, p | "sort -rn | head -" top
	}' "$out"
