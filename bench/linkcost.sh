#!/usr/bin/env bash
# What linking a group of third-party packages costs every nucleus start
# (issue 15): Go runs the init of every linked package before main,
# whatever the command, so a group costs `version` and `run` its package
# init and page faults as long as cmd/nucleus links it. This builds Go
# hello-worlds that blank-import the third-party packages cmd/nucleus
# links (without cgo ones: libseccomp) — all of them, all but the groups
# below ("light"), and light plus one group — and times them interleaved
# (N rounds, default 100) with their page faults (perf stat, if present).
# What a group adds to light is what moving it out of the binary (a
# helper beside nucleus, as nucleus-compose) would save at most.
# Groups: image (go-digest, image-spec, go-containerregistry, klauspost
# compress and what only pull uses), zstd (klauspost alone), cgstats
# (containerd cgroups v3 with its protobuf stats, cilium/ebpf), dns
# (miekg/dns). Needs no root.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
declare -A groups=(
	[image]='go-digest|image-spec|go-containerregistry|klauspost|docker/cli|vbatts|containerd/stargz|docker/docker-credential'
	[zstd]='klauspost'
	[cgstats]='containerd/cgroups/v3|google.golang.org/protobuf|cilium/ebpf'
	[dns]='miekg/dns'
)
heavy=$(printf '%s|' "${groups[@]}")
heavy=${heavy%|}
# The scratch packages live in the module (they need its go.mod) under a
# name no pattern of ours matches, and go when the script ends.
SCRATCH=$(mktemp -d "$PWD/_linkcost.XXXXXX")
WORK=$(mktemp -d /tmp/nucleus-linkcost.XXXXXX)
trap 'rm -rf "$SCRATCH" "$WORK"' EXIT
go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./cmd/nucleus |
	grep -v '^nucleus' | grep -Ev '/internal(/|$)' | grep -v libseccomp >"$WORK/third"
# mkmain NAME PATTERN: a main importing light's packages and those matching
# PATTERN ("" for none, "." for all).
mkmain() {
	mkdir -p "$SCRATCH/$1"
	{
		echo 'package main'
		echo 'import ('
		if [ "$2" = . ]; then cat "$WORK/third"; else grep -Ev "$heavy" "$WORK/third"; fi | sed 's/.*/\t_ "&"/'
		[ -z "$2" ] || [ "$2" = . ] || grep -E "$2" "$WORK/third" | sed 's/.*/\t_ "&"/'
		echo ')'
		echo 'func main() { println("x") }'
	} >"$SCRATCH/$1/main.go"
	CGO_ENABLED=0 go build -tags osusergo,netgo -o "$WORK/$1" "./${SCRATCH#"$PWD"/}/$1"
}
printf 'package main\nfunc main() { println("x") }\n' >"$WORK/hello.go"
CGO_ENABLED=0 go build -o "$WORK/hello" "$WORK/hello.go"
names=(hello light)
mkmain light ""
for g in "${!groups[@]}"; do
	mkmain "$g" "${groups[$g]}"
	names+=("$g")
done
mkmain all .
names+=(all)
for b in "${names[@]}"; do eval "run_$b() { \"$WORK/$b\"; }"; done
. bench/lib.sh
declare -A samples
load=$(cut -d' ' -f1-3 /proc/loadavg)
time_rounds "$N" "${names[@]}"
light=$(echo "${samples[light]}" | median_us)
printf '%-8s %10s %10s %12s  (%s rounds, load %s)\n' binary median "vs light" "page faults" "$N" "$load"
for b in "${names[@]}"; do
	m=$(echo "${samples[$b]}" | median_us)
	pf=-
	if command -v perf >/dev/null; then
		pf=$(perf stat -x, -r 20 -e page-faults "$WORK/$b" 2>&1 >/dev/null | awk -F, '$3=="page-faults"{print $1}')
	fi
	printf '%-8s %8.2f ms %+8.2f ms %12s\n' "$b" "$(awk -v u="$m" 'BEGIN{print u/1000}')" \
		"$(awk -v u="$m" -v l="$light" 'BEGIN{print (u-l)/1000}')" "$pf"
done
