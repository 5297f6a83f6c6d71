#!/bin/sh
# Runs inside the v2 VM as /test/tests.sh: black-box checks of the CLI
# (blackbox.sh), then the Go kernel test packages (extra/run.sh, from
# build-gotests.sh), then the summary run-vm.sh reads.
echo "kernel $(uname -r), cgroup: $(stat -fc %T /sys/fs/cgroup)"
t=$(cut -d' ' -f1 /proc/uptime)
sh /test/blackbox.sh 2>&1 | tee /tmp/blackbox.out
echo "blackbox checks took $(awk -v a=$t '{print $1-a}' /proc/uptime)s"
sh /test/extra/run.sh | tee /tmp/gotests.out
pass=$(cat /tmp/blackbox.out /tmp/gotests.out | grep -c '^PASS'); fail=$(cat /tmp/blackbox.out /tmp/gotests.out | grep -c '^FAIL')
[ -f /test/extra/run.sh ] || fail=$((fail+1))
echo "SUMMARY pass=$pass fail=$fail"
