#!/usr/bin/env bash
# Supervisor and GitOps daemon performance, in one run (issue 5):
#   (a) edit -> running: from the write of a changed project file (vim-style
#       temp file + rename) to the changed service running its new
#       configuration (new PID, new hash, state running), through
#       `nucleus daemon` (debounce included). Median over N_EDITS edits.
#       Target: median <= 500 ms.
#   (b) `nucleus up -d --wait` of a generated 20-service project (no health
#       checks) until all run. Target: <= 1.5 s.
#   (c) resident memory (VmRSS, VmHWM) of the daemon supervising 50 running
#       services (plus the 3 of (a)), and idle CPU (utime+stime from
#       /proc/PID/stat) of the daemon and of the detached supervisor of (b)
#       over IDLE_S seconds. Target: <= 40 MB, close to zero.
# Run as root. Every object lives under a temporary state root, removed at
# the end. NUCLEUS_BIN may name a prebuilt binary (nucleus-init beside it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
no_args "$0" "$@"
cd "$(dirname "$0")/.."
N_EDITS=${N_EDITS:-11}
IDLE_S=${IDLE_S:-60}

if [ "$(id -u)" != 0 ]; then echo "bench/reconcile.sh: run as root (namespaces, cgroups)" >&2; exit 1; fi
if [ -n "${NUCLEUS_BIN:-}" ]; then
	NUCLEUS=$NUCLEUS_BIN
else
	go build -o bin/nucleus ./cmd/nucleus
	go build -o bin/nucleus-init ./cmd/nucleus-init
	go build -o bin/nucleus-seccomp ./cmd/nucleus-seccomp
	NUCLEUS=$PWD/bin/nucleus
fi

WORK=$(mktemp -d /tmp/nucleus-rbench.XXXXXX)
chmod 755 "$WORK"
ROOT=$WORK/root
TREE=$WORK/tree
N() { "$NUCLEUS" --root "$ROOT" "$@"; }
DAEMON=""
cleanup() {
	set +e
	[ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	for p in rbench-lat rbench-big rbench-up20; do N -p "$p" down -t 100ms >/dev/null 2>&1; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# services NAME COUNT [MODE]: a project of COUNT sleeping services; the
# first one carries MODE in its environment.
services() {
	echo "name: $1"
	echo "services:"
	for ((i = 0; i < $2; i++)); do
		printf '  s%02d:\n    command: ["/bin/sleep", "100000"]\n    stop_signal: SIGKILL\n    stop_grace_period: 100ms\n' "$i"
		[ "$i" = 0 ] && [ -n "${3:-}" ] && printf '    environment: {MODE: "%s"}\n' "$3"
	done
	return 0
}
now_us() { local t=$EPOCHREALTIME; echo $((${t%.*} * 1000000 + 10#${t#*.})); }
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print int((v[NR/2]+v[NR/2+1])/2)}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.1f ms", u/1000}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# --- (b) up -d --wait of 20 services -----------------------------------------
mkdir -p "$WORK/up20"
services rbench-up20 20 > "$WORK/up20/nucleus.yaml"
a=$(now_us)
N --project-directory "$WORK/up20" -f "$WORK/up20/nucleus.yaml" up -d --wait --wait-timeout 30s >/dev/null
b=$(now_us)
up20=$((b - a))
SUP=$(tr -d '[:space:]' < "$ROOT/run/supervisors/rbench-up20.lock")

# --- daemon over a tree: the latency project and 50 services ----------------
mkdir -p "$TREE/lat" "$TREE/big"
services rbench-lat 3 edit-0 > "$TREE/lat/nucleus.yaml"
services rbench-big 50 > "$TREE/big/nucleus.yaml"
# Not through N: $! must be the daemon itself, not a subshell.
"$NUCLEUS" --root "$ROOT" daemon --watch "$TREE" >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
ready() { N status --json | jq -e --arg p "$1" '.projects[] | select(.name == $p) | .condition == "Ready" and .running == '"$2" >/dev/null 2>&1; }
for ((i = 0; i < 600; i++)); do
	ready rbench-lat 3 && ready rbench-big 50 && break
	sleep 0.1
done
ready rbench-big 50 || { echo "the daemon did not bring up 53 services:"; tail -20 "$WORK/daemon.log"; exit 1; }

# --- (a) edit -> changed service running its new configuration --------------
REC=$ROOT/run/projects/rbench-lat/sandboxes/s00-1.json
record() { # sets pid, hash, state from s00's record, without forking
	local c=""
	{ IFS= read -r -d '' c < "$REC"; } 2>/dev/null || true # missing while s00 is replaced
	[[ $c =~ \"init_pid\":\ ([0-9]+) ]] && pid=${BASH_REMATCH[1]} || pid=0
	[[ $c =~ \"hash\":\ \"([^\"]+)\" ]] && hash=${BASH_REMATCH[1]} || hash=""
	[[ $c =~ \"state\":\ \"([a-z]+)\" ]] && state=${BASH_REMATCH[1]} || state=""
}
samples=""
for ((e = 1; e <= N_EDITS; e++)); do
	record
	old_pid=$pid old_hash=$hash
	services rbench-lat 3 "edit-$e" > "$TREE/lat/.nucleus.yaml.swp"
	a=$(now_us)
	mv "$TREE/lat/.nucleus.yaml.swp" "$TREE/lat/nucleus.yaml"
	while :; do
		record
		if [ "$pid" != "$old_pid" ] && [ "$pid" != 0 ] && [ "$hash" != "$old_hash" ] && [ "$state" = running ] && [ -d "/proc/$pid" ]; then
			break
		fi
		if (($(now_us) - a > 10000000)); then echo "edit $e: not applied within 10 s"; tail -20 "$WORK/daemon.log"; exit 1; fi
		sleep 0.002
	done
	b=$(now_us)
	samples+="$((b - a)) "
	sleep 1 # let the pass finish before the next edit
done
lat_med=$(echo "$samples" | tr ' ' '\n' | grep -v '^$' | median)
lat_max=$(echo "$samples" | tr ' ' '\n' | grep -v '^$' | sort -n | tail -1)

# --- (c) memory with 53 services, idle CPU over IDLE_S s ---------------------
sleep 2
rss=$(kb "$DAEMON" VmRSS)
d0=$(ticks "$DAEMON") s0=$(ticks "$SUP")
echo "idle for ${IDLE_S}s (daemon pid $DAEMON, up -d supervisor pid $SUP)..."
sleep "$IDLE_S"
d1=$(ticks "$DAEMON") s1=$(ticks "$SUP")
hwm=$(kb "$DAEMON" VmHWM)
sup_rss=$(kb "$SUP" VmRSS)
hz=$(getconf CLK_TCK)
cpu() { awk -v t="$1" -v hz="$hz" -v s="$IDLE_S" 'BEGIN {printf "%.2f s CPU in %d s (%.3f%%)", t/hz, s, 100*t/hz/s}'; }

echo
printf "%-62s %s\n" "(a) write -> changed service running, median of $N_EDITS (max)" "$(ms "$lat_med") ($(ms "$lat_max"))"
printf "%-62s %s\n" "(b) nucleus up -d --wait, 20 services" "$(ms "$up20")"
printf "%-62s %s\n" "(c) daemon VmRSS / VmHWM with 53 running services" "$((rss / 1024)) MB / $((hwm / 1024)) MB"
printf "%-62s %s\n" "    up -d supervisor VmRSS with 20 running services" "$((sup_rss / 1024)) MB"
printf "%-62s %s\n" "    daemon idle CPU" "$(cpu $((d1 - d0)))"
printf "%-62s %s\n" "    up -d supervisor idle CPU" "$(cpu $((s1 - s0)))"
echo "    load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
ok=1
[ "$lat_med" -le 500000 ] || { echo "MISS: edit -> running median above 500 ms"; ok=0; }
[ "$up20" -le 1500000 ] || { echo "MISS: up -d --wait of 20 services above 1.5 s"; ok=0; }
[ "$hwm" -le 40960 ] || { echo "MISS: daemon peak RSS above 40 MB"; ok=0; }
[ $((d1 - d0)) -le $((hz * IDLE_S / 1000 + 1)) ] || { echo "MISS: daemon idle CPU above 0.1%"; ok=0; }
[ $ok = 1 ] && echo "targets met: edit -> running <= 500 ms, up 20 <= 1.5 s, RSS <= 40 MB, idle CPU ~0"
exit $((1 - ok))
