#!/bin/bash
# A real single-node Kubernetes (etcd, kube-apiserver, controller-manager,
# scheduler, kubelet on Debian's containerd + runc + CNI bridge/portmap,
# kube-proxy, CoreDNS as a Deployment) and a second control plane with kwok's
# fake nodes, both inside a network namespace this script makes, running the
# export of a nucleus project (issue 16, "Tests against the real thing" 3
# and 4). `make test-k8s-cluster` runs it as root; the Kubernetes binaries
# come from `make k8s-tools` (K8S_BIN). With CI set, a missing prerequisite
# fails instead of skipping.
#
# Why a network namespace: kube-proxy's and CNI's iptables rules, the
# bridge, ip_forward and every listening port (etcd 2379, apiserver 6443,
# kubelet 10250 ...) stay in it, so nothing collides with the host or other
# tests, pods get no route out, and deleting it proves the rules are gone.
# Processes, cgroups (under a cgroupRoot of our own), mounts and files stay
# under names this run chose, and the end checks each of them is gone.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
K8S_VERSION=${K8S_VERSION:-v1.37.2}
K8S_BIN=${K8S_BIN:-${NUCLEUS_K8S_BIN:-${NUCLEUS_K8S_CACHE:-/var/cache/nucleus-k8s}/$K8S_VERSION/bin}}
# The project whose export runs in the cluster; its Makefile builds its image.
FIXTURE=${FIXTURE:-$REPO/test/k8s/fixtures/web}
T0=$(date +%s)

log() { echo "[$(($(date +%s) - T0))s] $*"; }
fail() {
	echo "FAIL: $*" >&2
	# HOLD=SECONDS keeps the cluster up after a failure, to look at it.
	[ -z "${HOLD:-}" ] || { echo "holding $HOLD s: $W, nsenter --net=/proc/$HOLDER/ns/net" >&2; sleep "$HOLD"; }
	exit 1
}
# prereq: a missing prerequisite fails under CI and skips elsewhere.
prereq() {
	if [ -n "${CI:-}" ]; then fail "prerequisite missing (CI is set): $*"; fi
	echo "SKIP: prerequisite missing: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || prereq "root (namespaces, cgroups, containerd)"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kwok coredns; do
	[ -x "$K8S_BIN/$b" ] || prereq "$K8S_BIN/$b (built by make k8s-tools)"
done
# Debian packages: containerd and runc, the CNI plugins, iptables for
# kube-proxy and portmap, conntrack for kube-proxy, busybox for the images.
PKGS="containerd runc containernetworking-plugins iptables conntrack openssl jq busybox-static iproute2 util-linux"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
	log "installing:$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		prereq "Debian packages$missing (apt-get install failed)"
fi
CNI_BIN=/usr/lib/cni
for b in bridge host-local portmap loopback; do [ -x "$CNI_BIN/$b" ] || prereq "$CNI_BIN/$b (containernetworking-plugins)"; done
[ -f "$K8S_BIN/.complete" ] || prereq "$K8S_BIN/.complete (make k8s-tools has not finished)"
[ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ] || [ -e /sys/fs/cgroup/cgroup.controllers ] || prereq "a cgroup v1 memory controller or cgroup v2"

# ---- names and addresses of this run ---------------------------------------
W=$(mktemp -d /tmp/nk8s.XXXXXX) # short: unix socket paths live under it
ID=$(basename "$W" | cut -d. -f2 | tr 'A-Z' 'a-z')
BR=nk8sbr$ID              # the CNI bridge, in the namespace
CGROOT=/nk8s-$ID          # the kubelet's cgroupRoot
NODE=nk8s-node
KC=$W/admin.kubeconfig
KWOK_KC=$W/kwok.kubeconfig

# Pod, service and node ranges: private, and routed or addressed nowhere on
# the host (first free candidate), though the namespace keeps them apart.
cidr_used() {
	{ ip -4 route show root "$1"; ip -4 route show match "$1" | grep -v '^default'; ip -4 addr show to "$1"; } | grep -q .
}
B=""
for b in 213 223 233 243; do
	if ! cidr_used "10.$b.0.0/16" && ! cidr_used "10.$((b + 1)).0.0/16"; then B=$b; break; fi
done
[ -n "$B" ] || fail "no free private /16 pair among 10.213-10.244 on this host for the pod and service ranges"
POD_CIDR=10.$B.0.0/16
SVC_CIDR=10.$((B + 1)).0.0/24
SVC_API=10.$((B + 1)).0.1
DNS_IP=10.$((B + 1)).0.10
NODE_IP=10.$((B + 1)).255.1

PIDS=()          # every process this script started (pid), stopped at the end
SAVED_SYSCTL=()  # host sysctls the kubelet may change, restored at the end
for s in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
	SAVED_SYSCTL+=("$s=$(sysctl -n $s)")
done
# Paths outside $W that containerd 1.6 and the kubelet use whatever they
# are told (shim sockets, the device-plugin socket, the flex volume dir):
# what this run adds there is removed at the end, and checked.
SHIMS_BEFORE=$(ls /run/containerd/s 2>/dev/null || true)
HOST_DIRS_NEW=()
for d in /var/lib/kubelet /usr/libexec/kubernetes /etc/cni; do [ -e "$d" ] || HOST_DIRS_NEW+=("$d"); done
HOST_RULES_BEFORE=$( (nft list ruleset 2>/dev/null || true) | grep -cE 'KUBE-|CNI-' || true)


# The namespace is held by a process of ours, not a /run/netns mount: on
# this shared machine such mounts were seen to vanish mid-run (setns:
# EINVAL), and a process leaves nothing to unmount.
inns() { nsenter --net="/proc/$HOLDER/ns/net" -- "$@"; }
k() { inns "$K8S_BIN/kubectl" --kubeconfig "$KC" "$@"; }
kk() { inns "$K8S_BIN/kubectl" --kubeconfig "$KWOK_KC" "$@"; }
ctr_() { ctr --address "$W/containerd.sock" -n k8s.io "$@"; }

# start NAME CMD...: runs CMD in the namespace, logging to $W/log/NAME.log.
start() {
	local name=$1
	shift
	inns "$@" >"$W/log/$name.log" 2>&1 &
	PIDS+=("$!")
	echo "$!" >"$W/log/$name.pid"
}
# wait_for WHAT SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
	local what=$1 secs=$2 end=$((SECONDS + $2))
	shift 2
	while ((SECONDS < end)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	fail "$what: not ready after ${secs}s ($*)"
}
alive() { kill -0 "$(cat "$W/log/$1.pid")" 2>/dev/null || { tail -30 "$W/log/$1.log" >&2; fail "$1 exited (log above, $W/log/$1.log)"; }; }

source "$HERE/cleanup.sh"
trap 'rc=$?; cleanup $rc; exit $rc' EXIT
trap 'exit 130' INT TERM

log "run $ID: state $W, pods $POD_CIDR, services $SVC_CIDR, node $NODE_IP, cgroupRoot $CGROOT"
mkdir -p "$W"/{log,pki,cni/net.d,cni/ipam,images,manifests}
unshare --net -- sleep infinity &
HOLDER=$!
PIDS+=("$HOLDER")
for ((i = 0; i < 50; i++)); do
	[ "$(readlink /proc/$HOLDER/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
	sleep 0.1
done
NETNS_ID=$(readlink "/proc/$HOLDER/ns/net")
[ "$NETNS_ID" != "$(readlink /proc/self/ns/net)" ] || fail "unshare --net: no network namespace of its own"
inns ip link set lo up
# The node's address, on the namespace's lo (no dummy driver in this
# kernel): pods reach the apiserver and kubelet there through the bridge.
inns ip addr add "$NODE_IP/32" dev lo
# Per namespace (Linux >= 5.3): routing for the pods, and bridged replies
# through conntrack, without which a pod's reply to another pod on the same
# bridge bypasses the Service's NAT.
inns sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 ||
	prereq "net.bridge.bridge-nf-call-iptables in a network namespace (br_netfilter)"

source "$HERE/pki.sh"
source "$HERE/images.sh"
source "$HERE/control-plane.sh"
source "$HERE/node.sh"
source "$HERE/checks.sh"
source "$HERE/kwok.sh"

T1=$(date +%s)
cleanup
log "PASS: k8s cluster test: $((T1 - T0))s up and checked, $(($(date +%s) - T1))s cleanup, $(($(date +%s) - T0))s wall"
