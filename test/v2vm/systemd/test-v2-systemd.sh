#!/bin/sh
# make test-v2-systemd: build nucleus, build (or reuse) a minimal Debian
# bookworm image with systemd as PID 1 and boot it under qemu with Debian's
# 6.1 kernel as a pure cgroup v2 host: nucleus-daemon.service from
# examples/gitops runs two projects and checks.sh reports PASS / FAIL /
# XFAIL lines (see README in test/v2vm).
# nucleus uses its systemd cgroup manager there (the default on a pure v2
# host booted with systemd).
# Usage (root): test-v2-systemd.sh NUCLEUS_SRC [CACHE_DIR]   (default NUCLEUS_SRC/.v2vm-systemd)
# Env: TIMEOUT (qemu, default 1200 s), REBUILD=1, STRICT_CGROUPS=0 (placement checks XFAIL instead of FAIL), KVER, MIRROR.
set -eu
SRC=$(cd "${1:?nucleus source dir}" && pwd); CACHE=${2:-$SRC/.v2vm-systemd}
HERE=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s)
need=""
for p in qemu-system-x86 linux-image-amd64 debootstrap e2fsprogs kmod; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
[ -z "$need" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; }
# With CI set nothing may be left out or soften a failure: the kernel and
# its initramfs must be there, and the cgroup placement checks are strict.
if [ -n "${CI:-}" ] && [ "${STRICT_CGROUPS:-1}" != 1 ]; then
  echo "test-v2-systemd: CI is set: STRICT_CGROUPS=${STRICT_CGROUPS} would count failed checks as XFAIL; unset it" >&2; exit 1
fi
KVER=${KVER:-$(ls /lib/modules | sort -V | grep -- '-amd64$' | tail -1)}
for f in "/lib/modules/$KVER/modules.dep" "/boot/vmlinuz-$KVER" "/boot/initrd.img-$KVER"; do
  [ -n "$KVER" ] && [ -e "$f" ] || { echo "test-v2-systemd: no Debian -amd64 kernel to boot: ${KVER:+$f }missing (expected from the package linux-image-amd64; KVER=${KVER:-none found in /lib/modules})" >&2; exit 1; }
done
export KVER
make -C "$SRC" build
t1=$(date +%s)
"$HERE/build-image.sh" "$SRC" "$CACHE"
t2=$(date +%s)
rc=0; "$HERE/run-vm.sh" "$CACHE/run" "${TIMEOUT:-1200}" || rc=$?
t3=$(date +%s)
echo "times: deps+build $((t1 - t0))s, image $((t2 - t1))s, vm $((t3 - t2))s, total $((t3 - t0))s"
exit $rc
