#!/bin/sh
# Runs inside the v2 VM as /test/tests.sh: the Go kernel test packages
# (extra/run.sh, from build-gotests.sh), then the summary run-vm.sh reads.
echo "kernel $(uname -r), cgroup: $(stat -fc %T /sys/fs/cgroup)"
sh /test/extra/run.sh | tee /tmp/gotests.out
pass=$(grep -c '^PASS' /tmp/gotests.out); fail=$(grep -c '^FAIL' /tmp/gotests.out)
[ -f /test/extra/run.sh ] || fail=$((fail+1))
echo "SUMMARY pass=$pass fail=$fail"
