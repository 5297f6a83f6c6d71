#!/usr/bin/env bash
# What linking costs every nucleus start (issue 15): Go runs the init of
# every linked package before main, whatever the command, and a bigger
# binary takes more page faults, so a package costs `version` and `run`
# as long as cmd/nucleus links it. This builds Go hello-worlds that
# blank-import a set of packages (never nucleus's own, which only the real
# binary has) and times them interleaved (N rounds, default 100) with
# their page faults (perf stat, if present):
#   hello         nothing: a Go process's start and exit
#   all           everything cmd/nucleus links, standard library included
#   light         all without the third-party groups below
#   +GROUP        light plus one group: cgstats (containerd cgroups v3 with
#                 its protobuf statistics, cilium/ebpf, go-systemd D-Bus),
#                 dns (miekg/dns); what a group adds to light is what
#                 moving it out of the binary would save at most
#   runpath       what a binary for `run` alone would link: nucleus/spec,
#                 nucleus/runtime (cgroups included) and cobra
#   runpath-nocg  the same without containerd/cgroups: spec, the init's
#                 package, seccomp, Landlock and cobra (nucleus/runtime
#                 with cgroupfs code of its own)
#   nucleus       `nucleus version` of the real binary (NUCLEUS_BIN, default
#                 bin/nucleus, built when missing): all plus our own code
# all − runpath and all − runpath-nocg are the ceilings of the structural
# options in bench/results/issue15-runtime.md: a `run` that is not part of
# the binary that holds the supervisor, networks and DNS, and one without
# containerd/cgroups too. Needs no root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
no_args "$0" "$@"
cd "$(dirname "$0")/.."
N=${N:-100}
NUCLEUS=${NUCLEUS_BIN:-$PWD/bin/nucleus}
[ -x "$NUCLEUS" ] || make -s build
declare -A groups=(
	[cgstats]='containerd/cgroups/v3|google.golang.org/protobuf|cilium/ebpf|coreos/go-systemd|godbus/dbus'
	[dns]='miekg/dns'
)
heavy=$(printf '%s|' "${groups[@]}")
heavy=${heavy%|}
# The scratch packages live in the module (they need its go.mod) under a
# name no pattern of ours matches, and go when the script ends.
SCRATCH=$(mktemp -d "$PWD/_linkcost.XXXXXX")
WORK=$(mktemp -d /tmp/nucleus-linkcost.XXXXXX)
trap 'rm -rf "$SCRATCH" "$WORK"' EXIT
# closure PKG...: every importable package PKG... link, standard library
# included, without nucleus's own, internal and vendored ones (they come
# with their importers) and cgo (libseccomp: the binary is CGO_ENABLED=0).
closure() {
	go list -deps "$@" | grep -v '^nucleus' | grep -Ev '(^|/)internal(/|$)|^vendor/|^(C|unsafe|runtime/cgo)$' |
		grep -v libseccomp
}
closure ./cmd/nucleus >"$WORK/all.pkgs"
grep -Ev "$heavy" "$WORK/all.pkgs" >"$WORK/light.pkgs"
for g in "${!groups[@]}"; do
	{ cat "$WORK/light.pkgs"; grep -E "${groups[$g]}" "$WORK/all.pkgs"; } >"$WORK/+$g.pkgs"
done
closure ./spec ./runtime github.com/spf13/cobra >"$WORK/runpath.pkgs"
closure ./spec ./runtime/sbinit ./runtime/seccomp/... github.com/landlock-lsm/go-landlock/landlock \
	github.com/spf13/cobra >"$WORK/runpath-nocg.pkgs"
: >"$WORK/hello.pkgs"
names=(hello all light)
for g in "${!groups[@]}"; do names+=("+$g"); done
names+=(runpath runpath-nocg)
for i in "${!names[@]}"; do
	b=${names[$i]}
	mkdir -p "$SCRATCH/m$i"
	{
		echo 'package main'
		echo 'import ('
		sed 's/.*/\t_ "&"/' "$WORK/$b.pkgs"
		echo ')'
		echo 'func main() { println("x") }'
	} >"$SCRATCH/m$i/main.go"
	CGO_ENABLED=0 go build -o "$WORK/bin$i" "./${SCRATCH#"$PWD"/}/m$i"
	eval "run_b$i() { \"$WORK/bin$i\"; }"
done
names+=(nucleus)
eval "run_b$((${#names[@]} - 1))() { \"$NUCLEUS\" version; }"
echo "(nucleus version)" >"$WORK/nucleus.pkgs"
declare -A samples
load=$(cut -d' ' -f1-3 /proc/loadavg)
ids=()
for i in "${!names[@]}"; do ids+=("b$i"); done
time_rounds "$N" "${ids[@]}"
all=$(echo "${samples[b1]}" | median_us)
printf '%-13s %9s %10s %9s %12s  (%s rounds, load %s)\n' binary packages median "vs all" "page faults" "$N" "$load"
for i in "${!names[@]}"; do
	m=$(echo "${samples[b$i]}" | median_us)
	pf=-
	if command -v perf >/dev/null; then
		cmd=("$WORK/bin$i")
		[ "${names[$i]}" != nucleus ] || cmd=("$NUCLEUS" version)
		pf=$(perf stat -x, -r 20 -e page-faults "${cmd[@]}" 2>&1 >/dev/null | awk -F, '$3=="page-faults"{print $1}')
	fi
	pk=$(grep -c . "$WORK/${names[$i]}.pkgs" || true)
	[ "${names[$i]}" != nucleus ] || pk=-
	printf '%-13s %9s %7.2f ms %+7.2f ms %12s\n' "${names[$i]}" "$pk" \
		"$(awk -v u="$m" 'BEGIN{print u/1000}')" "$(awk -v u="$m" -v l="$all" 'BEGIN{print (u-l)/1000}')" "$pf"
done
