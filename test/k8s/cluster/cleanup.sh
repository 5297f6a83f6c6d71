# Sourced by cluster.sh: cleanup (on every exit) stops what this run started
# and removes what it made; verify_clean then fails the run if anything of it
# is left: processes, cgroups, mounts, the namespace (and with it the
# bridge, veths and kube-proxy's and CNI's iptables rules), host rules,
# kubelet symlinks, CNI cache files, changed host sysctls.
CLEANED=""
stop_pid() { # stop_pid PID: TERM, then KILL after 15 s
	local p=$1 i
	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.5; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
# ours: pids of processes whose command line or cwd names $W (the shims and
# their containers' processes are not our children, but are ours).
ours() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/stat" 2>/dev/null | sed 's/.*) \(.\).*/\1/')" = Z ] && continue
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$W"; then echo "${p#/proc/}"; fi
	done
}
new_shim_sockets() { comm -13 <(echo "$SHIMS_BEFORE" | sort) <(ls /run/containerd/s 2>/dev/null | sort); }
sandboxes() { ls "$W/containerd/root/io.containerd.grpc.v1.cri/sandboxes" 2>/dev/null; }
our_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "nk8s-$ID" 2>/dev/null; }
cgroup_pids() { # every pid in our cgroup trees
	local d
	for d in $(our_cgroups); do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u
}
cleanup() {
	[ -n "$CLEANED" ] && return 0
	CLEANED=1
	set +e
	log "cleanup: deleting the test's namespaces so the kubelet tears pods down through CNI"
	if [ -f "$W/log/kubelet.pid" ] && kill -0 "$(cat "$W/log/kubelet.pid")" 2>/dev/null; then
		for n in $(k get ns -o name 2>/dev/null | grep -vE '/(default|kube-system|kube-public|kube-node-lease)$'); do
			k delete "$n" --wait=false >/dev/null 2>&1
		done
		k -n kube-system delete deployment coredns --wait=false >/dev/null 2>&1
		for ((i = 0; i < 60; i++)); do
			[ -z "$(k get pods -A -o name 2>/dev/null)" ] && break
			sleep 1
		done
	fi
	# Components in reverse order of start, then shims and anything else of $W.
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
	for p in $(ours) $(cgroup_pids); do kill -KILL "$p" 2>/dev/null; done
	sleep 1
	# Mounts under $W (pod volumes, rootfs overlays, netns files, shm),
	# deepest first.
	for m in $(awk -v w="$W" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null; done
	# Killed tasks leave their cgroups a moment later: retry for 10 s.
	for ((i = 0; i < 20; i++)); do
		for d in $(our_cgroups); do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
		[ -z "$(our_cgroups)" ] && break
		sleep 0.5
	done
	# The kubelet's /var/log/containers symlinks into our podLogsDir.
	for l in /var/log/containers/*; do
		[ -L "$l" ] && case "$(readlink "$l")" in "$W"/*) rm -f "$l" ;; esac
	done
	# libcni's result cache (containerd 1.6 keeps it in /var/lib/cni): one
	# file per sandbox and network, left when a pod was not torn down.
	for sb in $(sandboxes); do rm -f /var/lib/cni/results/*-"$sb"-* 2>/dev/null; done
	rm -f /var/lib/cni/results/nk8s-"$ID"-* 2>/dev/null
	for s in "${SAVED_SYSCTL[@]}"; do sysctl -qw "$s" >/dev/null; done
	for f in $(new_shim_sockets); do rm -f "/run/containerd/s/$f"; done
	for d in "${HOST_DIRS_NEW[@]}"; do rm -rf "$d"; done
	verify_clean
	local vrc=$?
	# A failed run keeps its logs (and manifests) next to where $W was.
	if [ "${1:-0}" != 0 ]; then
		mkdir -p "$W-logs" && cp -r "$W/log" "$W/manifests" "$W-logs/" 2>/dev/null
		echo "logs of the failed run: $W-logs" >&2
	fi
	if [ "$vrc" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$W"; fi
	set -e
	[ "$vrc" = 0 ] || { echo "FAIL: cleanup left things behind (above); state kept in $W" >&2; exit 1; }
	log "cleanup: nothing left (processes, cgroups, mounts, netns, bridge/veths, rules, sysctls)"
}
verify_clean() {
	local bad=0 s left
	left=$(ours)
	[ -z "$left" ] || { echo "left: processes $left: $(for p in $left; do tr '\0' ' ' </proc/$p/cmdline; echo; done)" >&2; bad=1; }
	left=$(our_cgroups)
	[ -z "$left" ] || { echo "left: cgroups $left" >&2; bad=1; }
	left=$(awk -v w="$W" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo)
	[ -z "$left" ] || { echo "left: mounts $left" >&2; bad=1; }
	for p in "${PIDS[@]}"; do
		[ -d "/proc/$p" ] && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ] && { echo "left: process $p (started by the test)" >&2; bad=1; }
	done
	# The namespace is gone once no process is in it (and no mount holds it).
	if [ -n "${NETNS_ID:-}" ]; then
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$NETNS_ID" ] && { echo "left: ${p#/proc/} in the test's netns $NETNS_ID" >&2; bad=1; }
		done
		grep -qF "${NETNS_ID#net:}" /proc/self/mountinfo 2>/dev/null && { echo "left: a mount of netns $NETNS_ID" >&2; bad=1; }
	fi
	ip -o link show | grep -qE "nk8s|$BR" && { echo "left: host interfaces $(ip -o link show | grep -E "nk8s|$BR")" >&2; bad=1; }
	local now
	now=$( (nft list ruleset 2>/dev/null || true) | grep -cE 'KUBE-|CNI-' || true)
	[ "$now" -le "$HOST_RULES_BEFORE" ] || { echo "left: host nftables/iptables KUBE-/CNI- rules ($now, $HOST_RULES_BEFORE before)" >&2; bad=1; }
	left=$(find /var/log/containers -maxdepth 1 -lname "$W/*" 2>/dev/null)
	[ -z "$left" ] || { echo "left: /var/log/containers links $left" >&2; bad=1; }
	left=$(ls /var/lib/cni/results/nk8s-"$ID"-* $(for sb in $(sandboxes); do echo "/var/lib/cni/results/*-$sb-*"; done) 2>/dev/null)
	[ -z "$left" ] || { echo "left: CNI cache $left" >&2; bad=1; }
	left=$(new_shim_sockets)
	[ -z "$left" ] || { echo "left: containerd shim sockets in /run/containerd/s: $left" >&2; bad=1; }
	for d in "${HOST_DIRS_NEW[@]}"; do [ ! -e "$d" ] || { echo "left: $d (made by this run)" >&2; bad=1; }; done
	for s in "${SAVED_SYSCTL[@]}"; do
		[ "$(sysctl -n "${s%%=*}")" = "${s#*=}" ] || { echo "left: sysctl ${s%%=*} = $(sysctl -n "${s%%=*}"), was ${s#*=}" >&2; bad=1; }
	done
	return $bad
}
