#!/bin/sh
# Build an initramfs that boots a Debian 6.1 kernel into a pure cgroup v2
# system with busybox, the nucleus binaries and the test script.
# Usage: TESTS_DIR=DIR build-initramfs.sh NUCLEUS_BIN_DIR OUT_DIR
# Needs (Debian bookworm): linux-image-amd64 busybox-static cpio kmod slirp4netns passt
set -eu
BIN=$(cd "${1:?nucleus bin dir (with nucleus, nucleus-init, nucleus-compose and nucleus-seccomp)}" && pwd)
mkdir -p "${2:?output dir}"; OUT=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
KVER=${KVER:-$(ls /lib/modules | sort -V | grep -- '-amd64$' | tail -1)}
ST=$OUT/staging
rm -rf "$ST"; mkdir -p "$ST"
cd "$ST"
# A small merged-/usr system: /bin -> usr/bin etc., as on Debian.
mkdir -p usr/bin usr/sbin usr/lib/x86_64-linux-gnu usr/lib64 usr/local/bin etc root tmp run var/lib var/log proc sys dev srv newroot
ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib lib; ln -s usr/lib64 lib64
cp /bin/busybox usr/bin/busybox
for a in $(usr/bin/busybox --list-full); do   # e.g. usr/sbin/httpd, sbin/ip
  case $a in sbin/*) d=usr/sbin/${a#sbin/};; bin/*) d=usr/bin/${a#bin/};; *) d=$a;; esac
  [ -e "$d" ] || ln -s /usr/bin/busybox "$d"
done
cp "$BIN/nucleus" "$BIN/nucleus-init" "$BIN/nucleus-compose" "$BIN/nucleus-seccomp" "$BIN/nucleus-image" usr/local/bin/
# Dynamic host tools with their libraries: slirp4netns and pasta (passt's
# binary under the name that selects its pasta mode; nat: userspace),
# nft and ip (the network tests and leak checks read rules and links);
# for the rootless tests (issue 14), which make their unprivileged users
# themselves: useradd and usermod (passwd), newuidmap and newgidmap
# (uidmap, setuid root: cp -p keeps the bit), setpriv, nsenter and unshare
# (util-linux: busybox's nsenter lacks --preserve-credentials, which the
# rootless hub and TestRootlessProjectUserNS use).
for tool in slirp4netns pasta nft ip useradd usermod newuidmap newgidmap setpriv nsenter unshare; do
  path=$(command -v $tool) || continue
  case $tool in nft|ip|useradd|usermod) dest=usr/sbin;; *) dest=usr/bin;; esac
  rm -f "$dest/$tool"; cp -p "$path" "$dest/"   # replaces busybox's applet
  for l in $(ldd "$path" | awk '/=>/{print $3} /ld-linux/{print $1}'); do
    case $l in /lib64/*) cp -L "$l" usr/lib64/;; *) cp -L "$l" usr/lib/x86_64-linux-gnu/;; esac
  done
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group
printf '127.0.0.1 localhost\n::1 localhost\n' > etc/hosts
printf 'root:*:19000:0:99999:7:::\n' > etc/shadow; chmod 640 etc/shadow   # TestDefaultIsolation masks it
# Users made by the rootless tests go here (subordinate ranges too);
# login.defs gives useradd its id ranges.
printf 'root:*::\nnogroup:*::\n' > etc/gshadow; chmod 640 etc/gshadow
: > etc/subuid; : > etc/subgid
[ -f /etc/login.defs ] && cp /etc/login.defs etc/
: > etc/resolv.conf
echo v2vm > etc/hostname
# Kernel modules: bridge/veth/tun and nf_tables with what nucleus's rules use.
MODS="bridge veth tun dummy nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_reject_inet nft_reject_ipv4
      nft_fib_ipv4 nft_fib_inet nft_meta_bridge nf_conntrack_bridge nft_limit nft_redir nft_compat nft_objref
      virtio_pci virtio_blk ext4"  # the last three: an optional ext4 scratch disk for the go tests
# Present but not preloaded: the kernel autoloads them through /sbin/modprobe
# (busybox) by alias, as on a real host (fs-overlay, net-pf-16-proto-6).
AUTOMODS="overlay xfrm_user nft_log nft_quota nft_numgen nft_hash nft_socket nft_reject_bridge"
: > etc/modules.order
for m in $MODS; do
  modprobe -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}' | while read -r f; do
    d=usr$(dirname "$f"); mkdir -p "$d"; cp -n "$f" "$d/"
    grep -qxF "$f" etc/modules.order || echo "$f" >> etc/modules.order
  done
done
for m in $AUTOMODS; do
  modprobe -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}' | while read -r f; do
    d=usr$(dirname "$f"); mkdir -p "$d"; cp -n "$f" "$d/"
  done
done
mkdir -p usr/lib/modules/"$KVER"
cp /lib/modules/"$KVER"/modules.builtin* /lib/modules/"$KVER"/modules.order usr/lib/modules/"$KVER"/
depmod -b "$ST/usr" "$KVER"
# init (stage 1, on the initramfs) and init2 (stage 2, on a tmpfs root).
cp "$HERE/init" init; cp "$HERE/init2" usr/sbin/init2; chmod +x init usr/sbin/init2
# The checks to run: TESTS_DIR holds tests.sh (run by init2 as /test/tests.sh) and anything it needs.
mkdir -p test; cp -r "${TESTS_DIR:?set TESTS_DIR to a folder holding tests.sh}"/. test/; chmod +x test/tests.sh
[ -d "$OUT/extra" ] && cp -r "$OUT/extra" test/extra
cp /boot/vmlinuz-"$KVER" "$OUT/vmlinuz"
find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$OUT/initrd.cpio.gz"
ls -la "$OUT/vmlinuz" "$OUT/initrd.cpio.gz"
du -sh "$ST"
