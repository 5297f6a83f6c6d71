#!/usr/bin/env bash
# Image benchmarks (issue 12), side by side in one run (`make bench` or
# `make bench-image`):
#   (a) pull + unpack of a generated 200 MB (random data: gzip cannot shrink
#       it much), 5-layer image from a registry on 127.0.0.1 (crane registry
#       serve): `nucleus pull` of a one-service project into a fresh state
#       root, against `crane pull --format oci` + `tar -xzf` of each layer in
#       order into one directory. Interleaved, N_PULL rounds (default 5);
#       the page cache is flushed (sync) after every round, outside the
#       timed span. Target: nucleus / crane+tar <= 1.0.
#   (b) start cost of an unpacked image: `nucleus run --rm --image
#       oci:LAYOUT:1 -- /bin/true` (busybox-static image, pulled before the
#       rounds) against `nucleus run --rm -- /bin/true` (host view).
#       Interleaved, N_START rounds (default 40). Target: ratio <= 1.2.
# Where the binary has no `pull` or `run --image` yet, (a) times
# bench/imagepull (image/pull with Unpack, the same code) and (b) runs the
# unpacked tree as --rootfs; the table says which was measured.
# Run as root. NUCLEUS_BIN may name a prebuilt binary (nucleus-init beside
# it). Everything lives in a temporary directory, removed at the end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
no_args "$0" "$@"
cd "$(dirname "$0")/.."
N_PULL=${N_PULL:-5}
N_START=${N_START:-40}
SIZE=${SIZE:-200MB}
LAYERS=${LAYERS:-5}

if [ "$(id -u)" != 0 ]; then echo "bench/image.sh: run as root (namespaces, cgroups)" >&2; exit 1; fi
if [ -n "${NUCLEUS_BIN:-}" ]; then
	NUCLEUS=$NUCLEUS_BIN
else
	make -s build
	NUCLEUS=$PWD/bin/nucleus
fi

WORK=$(mktemp -d /tmp/nucleus-ibench.XXXXXX)
chmod 755 "$WORK"
REG=""
cleanup() {
	set +e
	[ -n "$REG" ] && kill "$REG" 2>/dev/null && wait "$REG" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# crane from the go-containerregistry version in go.mod (nucleus's own
# registry client): the same protocol code on both sides of (a).
go build -o "$WORK/crane" github.com/google/go-containerregistry/cmd/crane
go build -o "$WORK/imagepull" ./bench/imagepull
CRANE=$WORK/crane

echo "building the images (scripts/mkimage)..."
go run ./scripts/mkimage --out "$WORK/big" --tag 1 --synthetic "$SIZE" --layers "$LAYERS" | sed 's/^/  big:1  /'
go run ./scripts/mkimage --out "$WORK/bb" --tag 1 | sed 's/^/  busybox:1  /'

# The registry picks a free port and logs it ("serving on port N").
"$CRANE" registry serve --address 127.0.0.1:0 >"$WORK/registry.log" 2>&1 &
REG=$!
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$WORK/registry.log" | head -1)
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "crane registry serve did not start:"; cat "$WORK/registry.log"; exit 1; }
REF=127.0.0.1:$port/big:1
"$CRANE" push "$WORK/big" "$REF" >/dev/null 2>&1
# The layers in manifest order (the config's digest comes before "layers").
layers=$("$CRANE" manifest "$REF" | sed 's/.*"layers"://' | grep -o 'sha256:[0-9a-f]*')
[ "$(echo "$layers" | wc -l)" = "$LAYERS" ] || { echo "manifest of $REF: want $LAYERS layers, got: $layers"; exit 1; }

# (Help texts read whole first: grep -q would close the pipe early, and
# pipefail would count the writer's SIGPIPE as a miss.)
has_pull=0
help=$("$NUCLEUS" pull --help 2>/dev/null || true)
grep -q '^  nucleus pull' <<<"$help" && has_pull=1
has_image=0
help=$("$NUCLEUS" run --help 2>/dev/null || true)
grep -q -- '--image' <<<"$help" && has_image=1

# --- (a) pull + unpack -------------------------------------------------------
mkdir -p "$WORK/proj"
printf 'name: ibench\nservices:\n  big:\n    image: %s\n    command: ["/bin/true"]\n' "$REF" >"$WORK/proj/nucleus.yaml"
pull_nucleus() { # $1: fresh state root
	if [ $has_pull = 1 ]; then
		"$NUCLEUS" --root "$1" -f "$WORK/proj/nucleus.yaml" pull </dev/null
	else
		"$WORK/imagepull" --root "$1" "$REF"
	fi
}
pull_crane() { # $1: fresh directory
	"$CRANE" pull --format oci "$REF" "$1/layout" &&
		mkdir "$1/root" &&
		for d in $layers; do tar -xzf "$1/layout/blobs/sha256/${d#sha256:}" -C "$1/root" || return 1; done
}

# Sanity: each must succeed (and give the same tree) before it is timed.
for t in nucleus crane; do
	if ! "pull_$t" "$WORK/check-$t" >"$WORK/err" 2>&1; then echo "pull ($t) failed:"; cat "$WORK/err"; exit 1; fi
done
tree=$(echo "$WORK"/check-nucleus/data/images/trees/[0-9a-f]*)
# The store adds the mount points an image lacks (image/store: proc, sys,
# dev, tmp, run, etc/hosts, etc/resolv.conf, etc/hostname): leave them out.
mp='-x proc -x sys -x dev -x tmp -x run -x hosts -x resolv.conf -x hostname'
[ -e "$WORK/check-crane/root/etc" ] || mp="$mp -x etc"
if ! diff -r -q $mp "$tree" "$WORK/check-crane/root" >/dev/null; then
	echo "the trees of nucleus ($tree) and crane+tar differ:"; diff -r -q $mp "$tree" "$WORK/check-crane/root" | head; exit 1
fi
rm -rf "$WORK/check-nucleus" "$WORK/check-crane"

. bench/lib.sh
ms() { awk -v u="$1" 'BEGIN {printf "%.1f ms", u/1000}'; }
declare -A samples
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "timing $N_PULL rounds of pull + unpack (nucleus, crane+tar interleaved)..."
for ((i = 0; i < N_PULL; i++)); do
	for t in nucleus crane; do
		d=$WORK/round-$t-$i
		mkdir "$d"
		a=$EPOCHREALTIME # see time_rounds
		"pull_$t" "$d" >/dev/null 2>&1 || { echo "$t round $i failed"; exit 1; }
		b=$EPOCHREALTIME
		samples[$t]+="$((10#${b/./} - 10#${a/./})) "
		rm -rf "$d"
		sync
	done
done
pn=$(echo "${samples[nucleus]}" | median_us)
pc=$(echo "${samples[crane]}" | median_us)

# --- (b) start from an unpacked image vs the host view -------------------------
SROOT=$WORK/sroot
IMG=oci:$WORK/bb:1
if [ $has_image = 1 ]; then
	printf 'services:\n  bb:\n    image: %s\n' "$IMG" >"$WORK/proj/nucleus.yaml"
	if [ $has_pull = 1 ]; then
		pre() { "$NUCLEUS" --root "$SROOT" -f "$WORK/proj/nucleus.yaml" pull </dev/null; }
	else
		pre() { "$WORK/imagepull" --root "$SROOT" "$IMG"; }
	fi
	if ! pre >"$WORK/err" 2>&1; then echo "pull of $IMG failed:"; cat "$WORK/err"; exit 1; fi
	run_image() { "$NUCLEUS" --root "$SROOT" run --rm --image "$IMG" -- /bin/true </dev/null; }
	image_label="nucleus run --rm --image oci:... -- /bin/true"
else
	bbtree=$("$WORK/imagepull" --root "$SROOT" "$IMG")
	run_image() { "$NUCLEUS" --root "$SROOT" run --rm --rootfs "$bbtree" -- /bin/true </dev/null; }
	image_label="nucleus run --rm --rootfs TREE -- /bin/true"
fi
run_host() { "$NUCLEUS" --root "$SROOT" run --rm -- /bin/true </dev/null; }
for t in image host; do
	if ! "run_$t" >/dev/null 2>"$WORK/err"; then echo "run ($t) failed:"; cat "$WORK/err"; exit 1; fi
done
echo "timing $N_START rounds of start (image, host view interleaved)..."
time_rounds "$N_START" image host
si=$(echo "${samples[image]}" | median_us)
sh=$(echo "${samples[host]}" | median_us)

pull_label="nucleus pull (fresh root)"
[ $has_pull = 1 ] || pull_label="image/pull with Unpack (bench/imagepull)"
size=$("$CRANE" manifest "$REF" | grep -o '"size":[0-9]*' | awk -F: '{s += $2} END {printf "%.0f MB", s/1048576}')
echo
printf "%-54s %s -> %s\n" "load average (1/5/15 min) before -> after" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-54s %s\n" "image: $LAYERS layers, $SIZE of data, compressed" "$size"
printf "%-54s %s\n" "$pull_label (median)" "$(ms "$pn")"
printf "%-54s %s\n" "crane pull --format oci + tar -xzf (median)" "$(ms "$pc")"
printf "%-54s %s\n" "pull + unpack: nucleus / crane+tar" "$(ratio "$pn" "$pc")"
printf "%-54s %s\n" "$image_label (median)" "$(ms "$si")"
printf "%-54s %s\n" "nucleus run --rm -- /bin/true, host (median)" "$(ms "$sh")"
printf "%-54s %s\n" "start: image / host view" "$(ratio "$si" "$sh")"
echo
ok=1
[ "$pn" -le "$pc" ] || { echo "MISS: pull + unpack slower than crane + tar"; ok=0; }
awk -v a="$si" -v b="$sh" 'BEGIN {exit !(a <= 1.2 * b)}' || { echo "MISS: start from the image above 1.2x the host view"; ok=0; }
[ $ok = 1 ] && echo "targets met: pull + unpack <= crane + tar, start from an image <= 1.2x the host view"
[ $has_pull = 1 ] && [ $has_image = 1 ] || echo "NOTE: this binary lacks nucleus pull or run --image; measured through the fallbacks named above"
