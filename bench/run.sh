#!/usr/bin/env bash
# Sandbox start-up benchmark, side by side in one run (`make bench`):
#   nucleus run --rm -- /bin/true   full default isolation: user, mount, pid,
#                                   net, ipc, uts, cgroup namespaces, cgroup
#                                   limits, Landlock, seccomp
#   runc run                        an equivalent OCI bundle: the same
#                                   namespaces, memory/cpu/pids limits, a
#                                   seccomp allowlist of ~310 syscalls
#   bwrap --unshare-all             namespaces only
# The three are interleaved in every round so machine noise hits all alike.
# Prints medians and ratios, and the peak RSS of the in-sandbox init.
# Targets (issue 3): nucleus median <= 15 ms and below runc; init <= 8 MB.
# Run as root. N=rounds (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}

if [ "$(id -u)" != 0 ]; then echo "bench/run.sh: run as root (namespaces, cgroups, runc)" >&2; exit 1; fi
missing=""
for p in runc bubblewrap; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ -n "${NUCLEUS_BIN:-}" ]; then
	NUCLEUS=$NUCLEUS_BIN # a prebuilt binary (with nucleus-init beside it)
else
	# bin/nucleus (static) and the small init it runs as PID 1 of each
	# sandbox (found next to it).
	make -s build
	NUCLEUS=$PWD/bin/nucleus
fi

WORK=$(mktemp -d /tmp/nucleus-bench.XXXXXX)
chmod 755 "$WORK"
cleanup() {
	runc --root "$WORK/runc" delete -f nucleus-bench >/dev/null 2>&1 || true
	rmdir /sys/fs/cgroup/*/nucleus-bench/runc /sys/fs/cgroup/*/nucleus-bench /sys/fs/cgroup/unified/nucleus-bench 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- runc bundle equivalent to nucleus's defaults ---------------------------
BUNDLE=$WORK/bundle
mkdir -p "$BUNDLE/rootfs"
chmod 755 "$BUNDLE" "$BUNDLE/rootfs"
mounts=""
for d in /usr /bin /sbin /lib /lib32 /lib64 /libx32 /etc /opt; do
	if [ -L "$d" ]; then
		ln -s "$(readlink "$d")" "$BUNDLE/rootfs$d"
	elif [ -d "$d" ]; then
		mkdir -p "$BUNDLE/rootfs$d"
		mounts="$mounts{\"destination\":\"$d\",\"type\":\"bind\",\"source\":\"$d\",\"options\":[\"rbind\",\"ro\",\"nosuid\",\"nodev\"]},"
	fi
done
for d in proc dev sys tmp run; do mkdir -p "$BUNDLE/rootfs/$d"; done
# The allowlist: nucleus's default profile's allowed syscalls plus clone,
# ioctl and personality; its explicitly denied ones get EPERM.
names() { sed -n "/^var $1 = \[\]string{/,/^}/p" runtime/seccomp/default.go | grep -o '"[a-z0-9_]*"' | paste -sd, -; }
allowed="$(names allowedSyscalls),\"clone\",\"ioctl\",\"personality\""
denied="$(names deniedSyscalls)"
nsys=$(echo "$allowed,$denied" | tr ',' '\n' | wc -l)
cat > "$BUNDLE/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    $mounts
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=64m"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755", "size=16m"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 1879048192, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 1879048192, "size": 65536}],
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}],
    "cgroupsPath": "/nucleus-bench/runc",
    "resources": {"memory": {"limit": 268435456}, "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 128}},
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [
        {"names": [$allowed], "action": "SCMP_ACT_ALLOW"},
        {"names": [$denied], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
      ]
    }
  }
}
EOF

# stdin from /dev/null for all three: run from a terminal, nucleus would
# otherwise give the workload a pseudo-terminal (and runc gets none).
run_nucleus() { "$NUCLEUS" --root "$WORK/nroot" run --rm --memory 256M --cpus 0.5 --pids 128 -- /bin/true </dev/null; }
run_runc() { runc --root "$WORK/runc" run --bundle "$BUNDLE" nucleus-bench </dev/null; }
run_bwrap() {
	bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
		--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --proc /proc --dev /dev --tmpfs /tmp /bin/true </dev/null
}

# Sanity: each must succeed before it is timed.
for t in nucleus runc bwrap; do
	if ! "run_$t" >/dev/null 2>"$WORK/err"; then echo "$t failed:"; cat "$WORK/err"; exit 1; fi
done

. bench/lib.sh
declare -A samples
echo "timing $N rounds (nucleus, runc, bwrap interleaved; runc allowlist: $nsys syscalls)..."
# Start-up latency on a shared 2-core machine depends on what else runs.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
time_rounds "$N" nucleus runc bwrap
mn=$(echo "${samples[nucleus]}" | median_us)
mr=$(echo "${samples[runc]}" | median_us)
mb=$(echo "${samples[bwrap]}" | median_us)
ms() { awk -v u="$1" 'BEGIN {printf "%.2f ms", u/1000}'; }

# Peak RSS (VmHWM) of the in-sandbox init, with a workload that lives a while.
"$NUCLEUS" --root "$WORK/nroot" run --rm --name bench-rss -- /bin/sleep 1 &
rsspid=$!
hwm=""
for _ in $(seq 50); do
	sleep 0.05
	# argv of an init: nucleus-init __nucleus_init <root id> <sandbox id>
	p=$(grep -l -a "bench-rss" /proc/[0-9]*/cmdline 2>/dev/null | grep -v self | while read -r f; do
		grep -q -a "__nucleus_init" "$f" 2>/dev/null && echo "$f"; done | head -1 | cut -d/ -f3 || true)
	if [ -n "$p" ]; then sleep 0.3; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || true); break; fi
done
wait $rsspid || true

echo
printf "%-44s %s -> %s\n" "load average (1/5/15 min) before -> after" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-44s %s\n" "nucleus run --rm -- /bin/true (median)" "$(ms "$mn")"
printf "%-44s %s\n" "runc run, equivalent bundle (median)" "$(ms "$mr")"
printf "%-44s %s\n" "bwrap --unshare-all, namespaces only (median)" "$(ms "$mb")"
printf "%-44s %s\n" "nucleus / runc" "$(ratio "$mn" "$mr")"
printf "%-44s %s\n" "nucleus / bwrap" "$(ratio "$mn" "$mb")"
printf "%-44s %s\n" "peak RSS of the sandbox init (VmHWM)" "${hwm:-?} kB"
echo
ok=1
[ "$mn" -le 15000 ] || { echo "MISS: nucleus median above 15 ms"; ok=0; }
[ "$mn" -lt "$mr" ] || { echo "MISS: nucleus not faster than runc"; ok=0; }
[ -n "$hwm" ] && [ "$hwm" -le 8192 ] || { echo "MISS: init peak RSS above 8 MB (or not measured)"; ok=0; }
[ $ok = 1 ] && echo "targets met: median <= 15 ms, faster than runc, init <= 8 MB"

# Supervisor and GitOps daemon figures (issue 5), same binary: bench/reconcile.sh.
echo; NUCLEUS_BIN="$NUCLEUS" ./bench/reconcile.sh
