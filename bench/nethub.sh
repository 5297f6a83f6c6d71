# The rootless hub rows of bench/net.sh (sourced; needs root, iperf3,
# nsenter, ip, setpriv and the test user nucleus-rl-a with subordinate
# ranges). Everything goes through the product: `nucleus up` of a project
# with an iperf3 server (srv) and an idle client (cli), as root on a
# kernel-NAT bridge and as the test user on the shared userspace hub;
# iperf3 runs in cli with `nucleus exec`.
#
#   east-west   cli -> srv by service name. Once with the product's
#               defaults (kernel bridge links MTU 1500, hub links 65520),
#               then with equal MTUs: both at 1500 (the hub's links
#               lowered) and both at 65520 (the bridge's links raised).
#               The MTU is changed by hand on both ends of each sandbox's
#               veth (nucleus has no MTU option) and read back.
#   egress      cli -> the hub's way out (slirp4netns, the default; and
#               pasta, userspace_backend: pasta, a third project) -> an
#               iperf3 server on the host's 127.0.0.1, through the helper's
#               host-loopback mapping of 10.0.2.2 (the supervisor runs with
#               NUCLEUS_USERSPACE_HOST_LOOPBACK=1, off by default), next to
#               pasta alone (started by hand by the test user for a
#               namespace of its own, same server, through pasta's mapping
#               of the gateway address to the host's loopback).
#
# Traffic reaches only the projects' own namespaces and the host's
# 127.0.0.0/8. Before any bulk traffic each mapping is checked: the hub's
# slirp4netns must serve 10.0.2.0/24 without --disable-host-loopback, its
# pasta have gateway 10.0.2.2 without --no-map-gw, pasta alone must map
# the gateway (its --help offers --no-map-gw, which we do not pass), and a
# 64 KB transfer must reach the server, which listens on 127.0.0.1 alone. A failed check skips the row (n/a) and says why.

hub_user=nucleus-rl-a
hub_secs=${NUCLEUS_BENCH_SECONDS:-3}

# hub_nuc DIR root|rootless ARGS...: nucleus ARGS in DIR/home, state under DIR.
hub_nuc() {
	local d=$1 who=$2
	shift 2
	local env=(env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$d/home" XDG_RUNTIME_DIR="$d/run" XDG_DATA_HOME="$d/data")
	if [ "$who" != root ]; then
		(cd "$d/home" && setpriv --reuid "$hub_user" --regid "$hub_user" --clear-groups "${env[@]}" NUCLEUS_USERSPACE_HOST_LOOPBACK=1 "$PWD_BIN/nucleus" "$@")
	else
		(cd "$d/home" && "${env[@]}" NUCLEUS_ROOT="$d/run/nucleus" "$PWD_BIN/nucleus" "$@")
	fi
}

# hub_up root|rootless|rlpasta TAG: up a project (unique commands, so its
# processes can be found) and set hub_dir_<who>; srv serves iperf3 on 5201.
# root: kernel NAT; rootless: the test user's hub with the default way out
# (slirp4netns); rlpasta: the same with userspace_backend: pasta.
hub_up() {
	local who=$1 tag=$2 d
	d=$(mktemp -d /tmp/nucleus-bench-hub-XXXXXX)
	mkdir -p "$d/home" "$d/run" "$d/data"
	# An explicit subnet clear of 10.0.2.0/24, so the hub's slirp4netns
	# takes 10.0.2.0/24 (network/userspace.go slirpSubnet).
	cat >"$d/home/nucleus.yaml" <<EOF
name: benchhub$who
services:
  srv: {command: [iperf3, -s, -p, "5201", --pidfile, /tmp/srv-$tag]}
  cli: {command: [/bin/busybox, sleep, "36$tag"]}
networks:
$(case $who in
		root) echo "  default: {nat: kernel, subnet: 10.213.$((tag % 200)).0/24}" ;;
		rootless) echo "  default: {nat: userspace, subnet: 10.214.$((tag % 200)).0/24}" ;;
		rlpasta) echo "  default: {nat: userspace, userspace_backend: pasta, subnet: 10.215.$((tag % 200)).0/24}" ;;
		esac)
EOF
	if [ "$who" != root ]; then
		chown -R "$hub_user:" "$d"
		chmod 700 "$d"
	fi
	printf -v "hub_dir_$who" '%s' "$d"
	printf -v "hub_tag_$who" '%s' "$tag"
	hub_nuc "$d" "$who" up -d --wait >"$d/up.log" 2>&1 || { echo "bench/net.sh: up as $who failed: $(tail -3 "$d/up.log")" >&2; return 1; }
}

hub_down() {
	local who=$1 d
	d=$(eval echo "\${hub_dir_$who:-}")
	[ -n "$d" ] || return 0
	hub_nuc "$d" "$who" down -t 1 >/dev/null 2>&1 || true
	rm -rf "$d"
	printf -v "hub_dir_$who" '%s' ""
}

# hub_pids WHO: the srv and cli workload pids of WHO's project.
hub_pids() {
	local tag
	tag=$(eval echo "\$hub_tag_$1")
	pgrep -xf "iperf3 -s -p 5201 --pidfile /tmp/srv-$tag" | head -1
	pgrep -xf "/bin/busybox sleep 36$tag" | head -1
}

# hub_peerns WHO: how to enter the namespace holding the sandboxes' veth
# peers: the host for root, the hub (its holder, named by its directory
# under the project's state) for the user.
hub_peerns() {
	[ "$1" = root ] && return 0
	local p
	for p in $(pgrep -u "$hub_user" -f nucleus-hub-holder); do
		case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
		*" $hub_dir_rootless/run/"*) echo "nsenter -t $p -n"; return 0 ;;
		esac
	done
	echo "bench/net.sh: no hub holder of the rootless project" >&2
	return 1
}

# hub_set_mtu WHO MTU: eth0 of srv and cli and their veth peers.
hub_set_mtu() {
	local who=$1 m=$2 peerns p idx peer
	peerns=$(hub_peerns "$who") || return 1
	for p in $(hub_pids "$who"); do
		idx=$(nsenter -t "$p" -n ip -o link show dev eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')
		peer=$($peerns ip -o link | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }')
		[ -n "$peer" ] || { echo "bench/net.sh: no veth peer of $who's sandbox $p (ifindex $idx)" >&2; return 1; }
		$peerns ip link set dev "$peer" mtu "$m"
		nsenter -t "$p" -n ip link set dev eth0 mtu "$m"
	done
}

# hub_mtu WHO: the eth0 MTUs of srv and cli, as "A/B".
hub_mtu() {
	local p out=""
	for p in $(hub_pids "$1"); do
		# ip, not /sys: sysfs shows the namespace it was mounted in.
		out+="$(nsenter -t "$p" -n ip -o link show dev eth0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')/"
	done
	echo "${out%/}"
}

# hub_gbps: the receiver's Gbit/s in iperf3 -f g output on stdin.
hub_gbps() { awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i-1) }'; }

hub_ew() { # hub_ew WHO -> Gbit/s, east-west cli -> srv by name
	hub_nuc "$(eval echo "\$hub_dir_$1")" "$1" exec cli -- iperf3 -c srv -p 5201 -t "$hub_secs" -f g 2>/dev/null | hub_gbps
}

# The host's loopback server of the egress rows.
hub_lo_start() {
	hub_lo_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	hub_lo_log=$(mktemp /tmp/nucleus-bench-lo-XXXXXX)
	iperf3 -s -B 127.0.0.1 -p "$hub_lo_port" >"$hub_lo_log" 2>&1 &
	hub_lo_pid=$!
	sleep 0.3
}
hub_lo_stop() {
	if [ -n "${hub_lo_pid:-}" ]; then
		kill "$hub_lo_pid" 2>/dev/null || true
		wait "$hub_lo_pid" 2>/dev/null || true
	fi
	rm -f "${hub_lo_log:-}"
	hub_lo_pid=""
}

# hub_check_out WHO: WHO's hub maps 10.0.2.2 to the host's loopback: its
# slirp4netns serves 10.0.2.0/24 without --disable-host-loopback, or its
# pasta has gateway 10.0.2.2 without --no-map-gw.
hub_check_out() {
	local d p c
	d=$(eval echo "\$hub_dir_$1")
	# pasta runs as passt.avx2 where the CPU has AVX2 (the name it execs).
	for p in $(pgrep -u "$hub_user" -x 'slirp4netns|pas(ta|st)(\.avx2)?'); do
		c=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		case "$c" in *"$d/run/"*) ;; *) continue ;; esac
		case "$c" in *"--cidr 10.0.2.0/24 "* | *"-g 10.0.2.2 "*) ;; *) echo "the hub's way out does not use 10.0.2.0/24: $c"; return 1 ;; esac
		case "$c" in *--disable-host-loopback* | *--no-map-gw*) echo "the hub's way out does not map the host's loopback: $c"; return 1 ;; esac
		return 0
	done
	echo "no way out (slirp4netns, pasta) of the $1 project"
	return 1
}

hub_egress() { # hub_egress WHO [-n BYTES] -> Gbit/s from cli through the hub to the host's loopback
	local who=$1 len=(-t "$hub_secs")
	[ "${2:-}" = -n ] && len=(-n "$3")
	hub_nuc "$(eval echo "\$hub_dir_$who")" "$who" exec cli -- iperf3 -c 10.0.2.2 -p "$hub_lo_port" "${len[@]}" -f g 2>/dev/null | hub_gbps
}

# pasta alone: the test user's pasta for a fresh namespace of its own, no
# port forwarding (-t/-u/-T/-U none), the gateway mapped to the host's
# loopback (its default).
hub_pasta_gw=$(ip -4 route show default | awk '{ print $3; exit }')
hub_pasta_alone() { # hub_pasta_alone [-n BYTES] -> Gbit/s
	local len=(-t "$hub_secs")
	[ "${1:-}" = -n ] && len=(-n "$2")
	setpriv --reuid "$hub_user" --regid "$hub_user" --clear-groups env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp \
		pasta --config-net -4 -q -T none -U none -u none -t none -- \
		iperf3 -c "$hub_pasta_gw" -p "$hub_lo_port" "${len[@]}" -f g 2>/dev/null | hub_gbps
}
hub_check_pasta() {
	command -v pasta >/dev/null || { echo "pasta not installed (Debian package passt)"; return 1; }
	[ -n "$hub_pasta_gw" ] || { echo "no default route to copy: pasta has no gateway to map"; return 1; }
	# Read whole, not piped into grep -q: pasta's SIGPIPE would fail the pipe.
	local help
	help=$(pasta --help 2>&1 || true)
	grep -q -- '--no-map-gw' <<<"$help" || { echo "this pasta does not map the gateway to the host (no --no-map-gw in --help)"; return 1; }
}

hub_cleanup() { hub_down root; hub_down rootless; hub_down rlpasta; hub_lo_stop; }

# hub_rows: every hub row, interleaved rounds, best of each kept; prints
# the table. Leaves nothing behind (projects down, server stopped); the
# caller also runs hub_cleanup on exit.
hub_rows() {
	hub_rows_measure
	hub_cleanup
}

hub_rows_measure() {
	declare -A best=()
	local why_egress="" why_hubpasta="" why_pasta="" mtus=()
	keep() { if [ -n "$2" ]; then best[$1]=$(printf '%s\n%s\n' "${best[$1]:-}" "$2" | sort -g | tail -1); fi; }
	hub_up root $((RANDOM % 90 + 10)) || return 0
	hub_up rootless $((hub_tag_root + 1)) || return 0
	hub_lo_start
	why_egress=$(hub_check_out rootless) && { [ -n "$(hub_egress rootless -n 64K)" ] || why_egress="64 KB from the hub to 127.0.0.1:$hub_lo_port failed"; }
	if hub_up rlpasta $((hub_tag_root + 2)); then
		why_hubpasta=$(hub_check_out rlpasta) && { [ -n "$(hub_egress rlpasta -n 64K)" ] || why_hubpasta="64 KB from the hub to 127.0.0.1:$hub_lo_port failed"; }
	else
		why_hubpasta="up with userspace_backend: pasta failed"
	fi
	why_pasta=$(hub_check_pasta) && { [ -n "$(hub_pasta_alone -n 64K)" ] || why_pasta="64 KB from pasta to 127.0.0.1:$hub_lo_port failed"; }
	mtus[0]="root $(hub_mtu root), rootless $(hub_mtu rootless)"
	for _ in $(seq "${NUCLEUS_BENCH_ROUNDS:-3}"); do
		keep ew-root "$(hub_ew root)"
		keep ew-rootless "$(hub_ew rootless)"
		[ -z "$why_egress" ] && keep egress-hub "$(hub_egress rootless)"
		[ -z "$why_hubpasta" ] && keep egress-hubpasta "$(hub_egress rlpasta)"
		[ -z "$why_pasta" ] && keep egress-pasta "$(hub_pasta_alone)"
		hub_set_mtu rootless 1500 && mtus[1]="root $(hub_mtu root), rootless $(hub_mtu rootless)" &&
			keep ew-rootless-1500 "$(hub_ew rootless)"
		keep ew-root-1500b "$(hub_ew root)"
		hub_set_mtu root 65520 && hub_set_mtu rootless 65520 && mtus[2]="root $(hub_mtu root), rootless $(hub_mtu rootless)" &&
			keep ew-root-65520 "$(hub_ew root)"
		keep ew-rootless-65520b "$(hub_ew rootless)"
		hub_set_mtu root 1500
	done
	pct() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
	printf '%-44s %10s\n' "rootless hub, through the product" "Gbit/s"
	printf '  east-west by name, product defaults (eth0 MTU %s)\n' "${mtus[0]}"
	printf '    %-40s %10s\n' "root, kernel bridge" "${best[ew-root]:-n/a}" "rootless, shared hub" "${best[ew-rootless]:-n/a}"
	printf '    %-40s %9s%%  (target >= 90%%)\n' "rootless hub / kernel bridge" "$(pct "${best[ew-rootless]:-}" "${best[ew-root]:-}")"
	printf '  east-west, equal MTU 1500 (hub links lowered; %s)\n' "${mtus[1]:-not set}"
	printf '    %-40s %10s\n' "root, kernel bridge" "${best[ew-root-1500b]:-n/a}" "rootless, shared hub" "${best[ew-rootless-1500]:-n/a}"
	printf '    %-40s %9s%%  (target >= 90%%)\n' "rootless hub / kernel bridge" "$(pct "${best[ew-rootless-1500]:-}" "${best[ew-root-1500b]:-}")"
	printf '  east-west, equal MTU 65520 (bridge links raised; %s)\n' "${mtus[2]:-not set}"
	printf '    %-40s %10s\n' "root, kernel bridge" "${best[ew-root-65520]:-n/a}" "rootless, shared hub" "${best[ew-rootless-65520b]:-n/a}"
	printf '    %-40s %9s%%  (target >= 90%%)\n' "rootless hub / kernel bridge" "$(pct "${best[ew-rootless-65520b]:-}" "${best[ew-root-65520]:-}")"
	printf '  egress to the host'"'"'s 127.0.0.1 (iperf3 -s -B 127.0.0.1)\n'
	printf '    %-40s %10s\n' "sandbox -> hub -> slirp4netns (10.0.2.2)" "${best[egress-hub]:-n/a${why_egress:+ ($why_egress)}}"
	printf '    %-40s %10s\n' "sandbox -> hub -> pasta (10.0.2.2)" "${best[egress-hubpasta]:-n/a${why_hubpasta:+ ($why_hubpasta)}}"
	printf '    %-40s %10s\n' "pasta alone ($hub_pasta_gw mapped)" "${best[egress-pasta]:-n/a${why_pasta:+ ($why_pasta)}}"
	printf '    %-40s %9s%%  (target >= 100%%)\n' "hub via slirp4netns / pasta alone" "$(pct "${best[egress-hub]:-}" "${best[egress-pasta]:-}")"
	printf '    %-40s %9s%%  (target >= 100%%)\n' "hub via pasta / pasta alone" "$(pct "${best[egress-hubpasta]:-}" "${best[egress-pasta]:-}")"
}
