#!/bin/sh
# make test-v2: build nucleus, boot a Debian 6.1 kernel under qemu as a pure
# cgroup v2 host (no systemd, no KVM needed) and run $TESTS_DIR/tests.sh inside
# (default: tests.sh beside this script: the kernel test packages).
# Usage (as root, from anywhere): [TESTS_DIR=DIR] test-v2.sh NUCLEUS_SRC [OUT_DIR]
# tests.sh prints lines starting PASS or FAIL and ends with 'SUMMARY pass=N fail=M'.
# Env: GOTESTS=0 skips the in-VM go test run; TIMEOUT (default 1800 s: the
# suite took 853 s of the old 900 on a loaded host under software emulation).
set -eu
SRC=$(cd "${1:?nucleus source dir}" && pwd); OUT=${2:-$SRC/.v2vm}
HERE=$(cd "$(dirname "$0")" && pwd)
export TESTS_DIR=${TESTS_DIR:-$HERE/suite}
need=""
for p in qemu-system-x86 linux-image-amd64 busybox-static cpio kmod e2fsprogs slirp4netns passt nftables iproute2 uidmap passwd util-linux; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
[ -z "$need" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; }
make -C "$SRC" build
rm -rf "$OUT"; mkdir -p "$OUT"
[ "${GOTESTS:-1}" = 0 ] || "$HERE/build-gotests.sh" "$SRC" "$OUT" > /dev/null
# examples/image with its layout built here (the VM has no Go): blackbox.sh
# runs it from /test/extra/ex-image.
mkdir -p "$OUT/extra/ex-image"
cp -r "$SRC/examples/image/nucleus.yaml" "$SRC/examples/image/site" "$OUT/extra/ex-image/"
make -s -C "$SRC/examples/image" OUT="$OUT/extra/ex-image/build/layout" >/dev/null
"$HERE/build-initramfs.sh" "$SRC/bin" "$OUT"
"$HERE/run-vm.sh" "$OUT" "${TIMEOUT:-1800}"
