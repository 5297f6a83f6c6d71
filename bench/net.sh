#!/usr/bin/env bash
# Network benchmarks (kernel NAT and userspace NAT), all in one run, as root:
#   - TCP throughput with iperf3: host loopback, a bare veth pair between two
#     namespaces (the limit of the bridge design), host -> sandbox over the
#     bridge, through a published port on 127.0.0.1 and from another
#     namespace through the host's address, and userspace NAT (slirp4netns);
#     ratios against the bare veth pair;
#   - the rootless rows (the per-sandbox shape a nucleus without root builds
#     where it gets no hub, driven here as root): slirp4netns and pasta from the host's loopback to a
#     published port, egress to a namespace the test made, and east-west between
#     two sandboxes of one network (through a published port on the host end of
#     that namespace's link: no shared bridge), next to pasta started by hand;
#   - the rootless hub through the product (nucleus up + exec iperf3, root
#     vs the unprivileged test user; bench/nethub.sh): east-west by name,
#     kernel bridge vs hub, with the product's MTUs (1500 vs 65520) and with
#     equal ones (target >= 90%); egress from a sandbox through the hub's
#     slirp4netns to an iperf3 server on the host's 127.0.0.1 vs pasta alone
#     (target >= 100%);
#   - Attach of a sandbox to a kernel-NAT network (median, target <= 15 ms);
#   - resolving a service name from inside a sandbox (median, target <= 1 ms).
# Usage: bench/net.sh            (from anywhere; NUCLEUS_BENCH_SECONDS=3 per iperf3 run,
#                                  NUCLEUS_BENCH_ROUNDS=3 interleaved rounds, best kept)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
no_args "$0" "$@"
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
if [ "$(id -u)" != 0 ]; then echo "bench/net.sh: needs root (bridges, namespaces, nftables)" >&2; exit 1; fi
command -v iperf3 >/dev/null || { echo "bench/net.sh: iperf3 missing (apt-get install iperf3)" >&2; exit 1; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(go test -count=1 -run '^$' -bench '^Benchmark(Throughput|Attach|Resolve)$' -benchtime 1x ./network/ 2>&1 | grep -E '^Benchmark(Throughput|Attach|Resolve)' || true)
# Attach and Resolve need many iterations for a median.
lat=$(go test -count=1 -run '^$' -bench '^Benchmark(Attach|Resolve)$' -benchtime 200x ./network/ 2>&1 | grep -E '^Benchmark' || true)
if [ -z "$out" ] || [ -z "$lat" ]; then
	echo "bench/net.sh: benchmarks failed; run: go test -run '^\$' -bench . -benchtime 1x ./network/" >&2
	exit 1
fi

metric() { # metric UNIT LINES -> value before UNIT
	echo "$2" | tr '\t' '\n' | awk -v u="$1" '{ if ($2 == u) print $1 }' | head -1
}
tp=$(echo "$out" | grep '^BenchmarkThroughput')
printf '%-44s %10s\n' "network throughput (iperf3, TCP)" "Gbit/s"
for m in loopback bare-veth bridge published-lo published-ns userspace; do
	v=$(metric "Gbit/s-$m" "$tp")
	[ -n "$v" ] && printf '  %-42s %10s\n' "$m" "$v"
done
printf '  %-42s %9s%%  (target >= 90%%)\n' "bridge / bare veth" "$(metric '%bridge/veth' "$tp")"
printf '  %-42s %9s%%  (target >= 90%%)\n' "published port (127.0.0.1) / bare veth" "$(metric '%published/veth' "$tp")"
printf '%-44s %10s\n' "rootless (per-sandbox helper, without a hub)" "Gbit/s"
for m in rootless-slirp4netns-host rootless-pasta-host pasta-alone-host rootless-slirp4netns-egress rootless-pasta-egress pasta-alone-egress rootless-slirp4netns-eastwest rootless-pasta-eastwest; do
	v=$(metric "Gbit/s-$m" "$tp")
	[ -n "$v" ] && printf '  %-42s %10s\n' "$m" "$v"
done
for m in rootless-pasta-egress/pasta-alone rootless-pasta-host/pasta-alone; do
	v=$(metric "%$m" "$tp")
	[ -n "$v" ] && printf '  %-42s %9s%%  (target >= 100%%)\n' "$m" "$v"
done
for h in slirp4netns pasta; do
	v=$(metric "%rootless-$h-eastwest/bridge" "$tp")
	[ -n "$v" ] && printf '  %-42s %9s%%  (target >= 90%%)\n' "rootless $h east-west / bridge" "$v"
done
# The rootless hub through the product (bench/nethub.sh): east-west by
# name, root's kernel bridge vs the test user's hub, with the product's
# MTUs and with equal ones; egress from the hub to the host's loopback vs
# pasta alone. The test user is made by the testutil test that makes it for
# the rootless tests.
PWD_BIN="$PWD/bin"
make -s build >/dev/null
go test -count=1 -run '^TestRootlessUserEnv$' ./internal/testutil/ >/dev/null 2>&1 || true
. bench/nethub.sh
trap hub_cleanup EXIT
if id "$hub_user" >/dev/null 2>&1; then
	hub_rows
else
	echo "rootless hub rows: n/a (no test user $hub_user)"
fi
printf '%-44s %10s ms  (target <= 15 ms)\n' "attach sandbox to kernel network, median" "$(metric 'ms-median/attach' "$lat")"
printf '%-44s %10s ms  (target <= 1 ms)\n' "resolve service name in sandbox, median" "$(metric 'ms-median/resolve' "$lat")"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "(load average before/after: $load0 / $load1 on $(nproc) CPUs; throughput is the best of interleaved rounds)"
