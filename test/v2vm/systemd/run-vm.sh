#!/bin/sh
# Boot the systemd image (TCG) and capture the serial console.
# Usage: run-vm.sh RUN_DIR [TIMEOUT_SECONDS]   (RUN_DIR from build-image.sh)
# Env: ACCEL (tcg), EXTRA_APPEND (more kernel parameters), GRACE (s, 120).
# Exit status: 0 if the summary line says fail=0, 1 otherwise.
set -u
RUN=${1:?run dir}; TMO=${2:-1200}
LOG=$RUN/console.log
# TCG: a guest under this machine's /dev/kvm printed nothing (nested
# virtualisation). ACCEL=kvm to try it elsewhere.
ACCEL=${ACCEL:-tcg}
# Debian's own initramfs (initramfs-tools) mounts /dev/vda read-write and
# runs systemd from it. Pure cgroup v2, the LSMs of run-vm.sh beside this
# directory; quiet kernel and systemd (status lines only for failures and slow jobs).
APPEND="root=/dev/vda rw rootfstype=ext4 console=ttyS0 quiet panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 lsm=landlock,yama,apparmor systemd.default_timeout_start_sec=300s net.ifnames=0 fsck.mode=skip${EXTRA_APPEND:+ $EXTRA_APPEND}"
start=$(date +%s)
timeout --foreground -k 10 "$TMO" qemu-system-x86_64 -machine q35,accel=$ACCEL -cpu max -m 2048 -smp 2 \
  -display none -monitor none -serial stdio -no-reboot -nic none \
  -drive file="$RUN/disk.img",if=virtio,format=raw \
  -kernel "$RUN/vmlinuz" -initrd "$RUN/initrd.img" -append "$APPEND" \
  < /dev/null > "$LOG" 2>&1 &
qpid=$!
# An interrupted run (Ctrl-C, CI's time limit) takes qemu with it.
trap 'kill $qpid 2>/dev/null' EXIT
trap 'exit 130' INT TERM HUP
echo "qemu pid $qpid ($ACCEL), console -> $LOG"
# The checks' unit powers the guest off when it ends (SuccessAction=); if the
# guest is still up GRACE seconds after the SUMMARY line, stop qemu.
GRACE=${GRACE:-120}; seen=""
while kill -0 $qpid 2>/dev/null; do
  sleep 2
  if [ -z "$seen" ] && grep -q '^SUMMARY ' "$LOG" 2>/dev/null; then seen=$(date +%s); echo "summary after $((seen - start))s"; fi
  if [ -n "$seen" ] && [ $(( $(date +%s) - seen )) -gt "$GRACE" ]; then
    echo "the guest did not power off ${GRACE}s after the summary: stopping qemu"; kill $qpid; break
  fi
done
wait $qpid; rc=$?; trap - EXIT
echo "qemu exited rc=$rc after $(( $(date +%s) - start ))s"
tr -d '\r' < "$LOG" | grep -E '^(PASS|FAIL|XFAIL|SUMMARY|INFO: (boot|checks|rootless cpu))'
# The plain closing line CI reads ("N passed, N failed"); no summary (the
# guest died or timed out) counts as one failure.
tr -d '\r' < "$LOG" | sed -n 's/^SUMMARY pass=\([0-9]*\) fail=\([0-9]*\).*/v2vm-systemd: \1 passed, \2 failed/p' | tail -1 | grep . || echo "v2vm-systemd: 0 passed, 1 failed"
tr -d '\r' < "$LOG" | grep -q '^SUMMARY pass=[0-9]* fail=0 '
