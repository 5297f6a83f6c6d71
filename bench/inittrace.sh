#!/usr/bin/env bash
# Package initialisation cost of the nucleus binary (issue 15): runs
# `GODEBUG=inittrace=1 nucleus version` RUNS times (default 20), sums the
# clock time of every package's init per run and prints the mean total per
# run, the mean over runs and the TOP (default 15) packages by mean clock
# time. Go runs the init of every linked package before main, so this is
# start-up work every command pays. NUCLEUS_BIN names the binary (default
# bin/nucleus, built when missing). Needs no root.
set -euo pipefail
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
# Lines: init PKG @T ms, CLOCK ms clock, BYTES bytes, ALLOCS allocs
awk -v runs="$RUNS" -v top="$TOP" '
	{ clock[$2] += $5; bytes[$2] += $8; allocs[$2] += $10; total += $5; tb += $8; ta += $10; n++ }
	END {
		printf "binary init, mean of %d runs: %.2f ms clock, %d packages with init, %.0f kB, %.0f allocs\n",
			runs, total / runs, n / runs, tb / runs / 1024, ta / runs
		printf "top %d packages by mean init clock:\n", top
		for (p in clock) printf "%8.3f ms %8.0f kB %7.0f allocs  %s\n", clock[p] / runs, bytes[p] / runs / 1024, allocs[p] / runs, p | "sort -rn | head -" top
	}' "$out"
