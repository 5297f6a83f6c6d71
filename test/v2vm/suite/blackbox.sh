#!/bin/sh
# Black-box checks of the nucleus CLI on a pure cgroup v2 host (issue 10):
# nucleus run (pids, OOM), nucleus up/ps/down of a kernel-NAT and a
# userspace-NAT project (names, published ports, limits, live update, OOM in
# ps --json), and nothing left afterwards. One PASS/FAIL line per check;
# MEASURE lines carry numbers. Traffic stays on loopback and inside the
# projects' own networks.
N=/usr/local/bin/nucleus; R=/tmp/bb-root; HERE=$(dirname "$0")
pass=0; fail=0
check() { if [ "$1" = 0 ]; then echo "PASS bb:$2"; pass=$((pass+1)); else echo "FAIL bb:$2 ${3:-}"; fail=$((fail+1)); fi; }
nu() { $N --root $R "$@"; }
# up bounded by timeout: a command that hangs fails its check and says what
# the supervisor and the processes were doing, instead of stalling the VM.
nuup() { out=$1; shift; timeout 180 $N --root $R up -d --wait "$@" >$out 2>&1; rc=$?
  if [ $rc != 0 ]; then echo "--- up exited $rc:"; cat $out; for f in $R/run/supervisors/*.log; do echo "--- $f:"; tail -30 $f; done
    for p in /proc/[0-9]*; do c=$(tr '\0' ' ' <$p/cmdline 2>/dev/null); case "$c" in *nucleus*) echo "$(basename $p) $(cut -d' ' -f3 $p/stat) $(cat $p/wchan 2>/dev/null) $c";; esac; done; fi
  return $rc; }
# procs PATTERN: the live processes whose command line matches (the VM's
# busybox has no pgrep; zombies have an empty cmdline and do not count).
procs() { for p in /proc/[0-9]*; do c=$(tr '\0' ' ' <$p/cmdline 2>/dev/null); echo "$c" | grep -qE "$1" && echo "$(basename $p):$c"; done; }
fetch() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc "$1" "$2" 2>/dev/null | tail -1; }

# nucleus run: the pids limit leaves the workload its whole budget.
ok=0; for i in $(seq 50); do nu run --pids 4 -- /bin/true >/tmp/o 2>&1 && ok=$((ok+1)); done
echo "MEASURE run --pids 4 /bin/true: $ok/50 exit 0"
[ $ok = 50 ]; check $? "run-pids4-50-times" "($ok/50; last: $(head -2 /tmp/o | tr '\n' '|'))"
f=$(nu run --pids 20 -- /bin/sh -c 'i=0; while [ $i -lt 60 ]; do sleep 60 & i=$((i+1)); echo $i; done' 2>/dev/null | tail -1)
echo "MEASURE run --pids 20 fork loop: $f forks (v1 hosts: 19)"
[ "$f" = 19 ]; check $? "run-pids20-forks" "($f)"
# OOM of a child and of the main process are both reported.
# (The kernel may take the shell as a second victim: try until it survives.)
for try in 1 2 3 4 5 6; do
  nu run --memory 32M -- /bin/sh -c 'head -c 300000000 /dev/zero | tail -c 200000000 >/dev/null' 2>/tmp/e
  grep -q 'a process was killed: out of memory (limit 32M)' /tmp/e && break
done
grep -q 'a process was killed: out of memory (limit 32M)' /tmp/e; check $? "run-child-oom-line" "($(tr '\n' '|' </tmp/e))"
nu run --memory 32M -- /bin/sh -c 'x=$(head -c 300000000 /dev/zero | tr "\0" a)' 2>/tmp/e; rc=$?
[ $rc = 137 ] && grep -q 'out of memory (limit 32M)' /tmp/e; check $? "run-main-oom-137" "(rc $rc: $(tr '\n' '|' </tmp/e))"

# A kernel-NAT project.
cd $HERE/proj-kernel
nuup /tmp/up.out --wait-timeout 120s; check $? "kernel-up" "($(tail -3 /tmp/up.out | tr '\n' '|'))"
ip=$(nu exec -T client -- nslookup web 2>/dev/null | awk '/^Address/ && $NF !~ /:53$/ {a=$NF} END {print a}')
echo "MEASURE web resolves to $ip"
[ -n "$ip" ]; check $? "kernel-name-resolves"
out=$(nu exec -T client -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc $ip 8080" 2>/dev/null | tail -1)
[ "$out" = hello-web ]; check $? "kernel-service-to-service" "($out)"
out=$(fetch 127.0.0.1 18080); [ "$out" = hello-web ]; check $? "kernel-published-port" "($out)"
cg=$(for d in /sys/fs/cgroup/nucleus-*/*/; do grep -q . $d/cgroup.procs 2>/dev/null && [ "$(cat $d/cpu.max 2>/dev/null; cat $d/workload/cpu.max 2>/dev/null)" != "" ] && echo $d; done | head -5)
webcg=$(grep -l . /sys/fs/cgroup/nucleus-*/*/workload/pids.max 2>/dev/null | xargs grep -l '^21$' | head -1)
[ -n "$webcg" ] && grep -q '^50000 100000' $(dirname $webcg)/cpu.max; check $? "kernel-limits-pids-cpu" "($webcg)"
pid1=$(nu ps --json | tr ',' '\n' | grep -A20 '"web-1"' | awk -F: '/"pid"/ {print $2; exit}' | tr -d ' ')
sed -i 's/memory: 48M, pids: 20/memory: 64M, pids: 20/' nucleus.yaml
nuup /tmp/up2.out --wait-timeout 60s
pid2=$(nu ps --json | tr ',' '\n' | grep -A20 '"web-1"' | awk -F: '/"pid"/ {print $2; exit}' | tr -d ' ')
echo "MEASURE live memory update: web pid $pid1 -> $pid2"
sed -i 's/memory: 64M, pids: 20/memory: 48M, pids: 20/' nucleus.yaml
[ -n "$pid1" ] && [ "$pid1" = "$pid2" ]; check $? "kernel-live-update-keeps-pid"
i=0; while [ $i -lt 30 ]; do nu ps --json > /tmp/ps.json 2>&1; grep -q '"oom_kills": [1-9]' /tmp/ps.json && break; sleep 1; i=$((i+1)); done
grep -q '"oom_kills": [1-9]' /tmp/ps.json; check $? "kernel-ps-json-oom_kills"
nu ps

# A userspace-NAT project beside it (slirp4netns, hub namespace).
cd $HERE/proj-user
nuup /tmp/upu.out --wait-timeout 120s; check $? "userspace-up" "($(tail -3 /tmp/upu.out | tr '\n' '|'))"
ip=$(nu exec -T client -- nslookup web 2>/dev/null | awk '/^Address/ && $NF !~ /:53$/ {a=$NF} END {print a}')
out=$(nu exec -T client -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc $ip 8080" 2>/dev/null | tail -1)
[ "$out" = hello-user ]; check $? "userspace-service-to-service" "($ip: $out)"
out=$(fetch 127.0.0.1 18081); [ "$out" = hello-user ]; check $? "userspace-published-port" "($out)"

# An image project (examples/image, its OCI layout built on the host): on
# this kernel's tmpfs root idmapped mounts are refused, so the tree runs on
# a shifted copy; the image's user, health check and page must still hold.
cd /test/extra/ex-image
nuup /tmp/upi.out --wait-timeout 120s; check $? "image-up" "($(tail -3 /tmp/upi.out | tr '\n' '|'))"
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc 127.0.0.1 8081 2>/dev/null | grep -c nucleus)
[ "$out" -ge 1 ]; check $? "image-page" "($out)"
uid=$(nu exec -T web -- id -u 2>&1); [ "$uid" = 999 ]; check $? "image-user-999" "($uid)"
nu ps --json | grep -q '"image_digest": "sha256:'; check $? "image-ps-digest"
nu images | grep -q 'oci:/test/extra/ex-image/build/layout:1'; check $? "image-listed" "($(nu images 2>&1 | tr '\n' '|'))"
echo "MEASURE image trees while running: $(ls $R/data/images/trees | tr '\n' ' ')(root fs $(stat -fc %T $R))"
nu down >/dev/null 2>&1; check $? "image-down"
nu image prune -a -f >/dev/null 2>&1; check $? "image-prune"
left=$(ls $R/data/images/trees 2>/dev/null; ls $R/data/images/refs 2>/dev/null)
[ -z "$left" ]; check $? "image-store-empty-after-prune" "($left)"

# A compose project (compose.yaml found without a nucleus.yaml) and the
# commands Compose users type, on v2: the freezer, stats, top, ulimits.
cd $HERE/proj-compose
nuup /tmp/upc.out --wait-timeout 120s; check $? "compose-up" "($(tail -3 /tmp/upc.out | tr '\n' '|'))"
hp=$(nu port web 8080 2>&1); echo "MEASURE compose port web 8080: $hp"
page() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc "${1%:*}" "${1##*:}" 2>/dev/null | grep -c nucleus; }
out=$(page $hp); [ "$out" -ge 1 ]; check $? "compose-ephemeral-port" "($hp: $out)"
nu pause web >/dev/null 2>&1; st=$(nu ps --json | grep -c '"paused": true')
out=$(page $hp); echo "MEASURE paused: $st replica(s) paused, $out page line(s) served"
[ "$st" = 1 ] && [ "$out" = 0 ]; check $? "compose-pause-freezes" "($st; $out)"
nu unpause web >/dev/null 2>&1; out=$(page $hp)
[ "$out" -ge 1 ]; check $? "compose-unpause" "($out)"
mem=$(nu stats --no-stream --json 2>&1 | grep -m1 '"memory_bytes"'); echo "MEASURE stats: $mem"
echo "$mem" | grep -q '[1-9]'; check $? "compose-stats-memory" "($mem)"
nu top web 2>&1 | grep -q httpd; check $? "compose-top" "($(nu top web 2>&1 | tr '\n' '|'))"
lim=$(nu exec -T web -- sh -c 'echo $(ulimit -n) $(ulimit -Hn)' 2>&1); [ "$lim" = "1000 2000" ]; check $? "compose-ulimits" "($lim)"
rm -f /tmp/cp.html; nu cp web:/srv/site/index.html /tmp/cp.html >/dev/null 2>&1; grep -q nucleus /tmp/cp.html; check $? "compose-cp-out"
nu down >/dev/null 2>&1; check $? "compose-down"

# Down: nothing of either project is left.
cd $HERE/proj-user && nu down >/dev/null 2>&1; check $? "userspace-down"
cd $HERE/proj-kernel && nu down >/dev/null 2>&1; check $? "kernel-down"
left="$(ls -d /sys/fs/cgroup/nucleus-*/* 2>/dev/null) $(ip -br link 2>/dev/null | grep -E '^nc[bv]') $(nft list tables 2>/dev/null | grep nucleus_) $(procs 'nucleus-init|slirp4netns|nucleus.* supervise')"
[ -z "$(echo $left)" ]; check $? "nothing-left" "($left)"

# Rootless (issue 14): an ordinary user made here with a subordinate range
# (the image carries useradd, usermod, newuidmap/newgidmap and setpriv)
# runs a one-off sandbox and brings a project up (exec, logs) and down in
# its own XDG dirs; nothing of it is left. (No network: userspace networks
# without root are checked by the go tests.)
RU=nucleus-bb; RH=/tmp/rl-home
useradd --system --user-group --no-create-home --home-dir $RH --shell /bin/sh $RU 2>/tmp/e || true
usermod --add-subuids 200000-265535 --add-subgids 200000-265535 $RU 2>>/tmp/e
ruid=$(id -u $RU 2>/dev/null); rgid=$(id -g $RU 2>/dev/null)
[ -n "$ruid" ] && grep -q "^$RU:200000:65536" /etc/subuid; check $? "rootless-user" "($(tr '\n' '|' </tmp/e))"
mkdir -p $RH/run $RH/data $RH/proj
printf 'name: rl\nservices:\n  s:\n    command: ["/bin/sh", "-c", "echo rl-started; exec sleep 100000"]\n    networks: []\n' > $RH/proj/nucleus.yaml
chown -R $ruid:$rgid $RH; chmod 700 $RH
# (util-linux's setpriv by path: busybox sh prefers its own applet.)
asuser() { /usr/bin/setpriv --reuid $ruid --regid $rgid --clear-groups env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=$RH USER=$RU XDG_RUNTIME_DIR=$RH/run XDG_DATA_HOME=$RH/data "$@"; }
out=$(cd $RH && asuser $N run -- /bin/sh -c 'id -u; grep ^CapEff /proc/self/status' 2>/tmp/e | tr '\n' ' ')
echo "MEASURE rootless run: $out; stderr: $(tr '\n' '|' </tmp/e)"
echo "$out" | grep -q '^0 CapEff:.0000000000000000'; check $? "rootless-run-id" "($out)"
cd $RH/proj && asuser timeout 180 $N up -d --wait --wait-timeout 120s >/tmp/upr.out 2>&1; check $? "rootless-up" "($(tail -3 /tmp/upr.out | tr '\n' '|'))"
out=$(asuser $N exec -T s -- id -u 2>&1); [ "$out" = 0 ]; check $? "rootless-exec" "($out)"
out=$(asuser $N logs 2>&1); echo "$out" | grep -q rl-started; check $? "rootless-logs" "($out)"
asuser $N ps
[ -z "$(ls -A $R/run/projects 2>/dev/null | grep -x rl)" ] && [ ! -e /run/nucleus/projects/rl ]; check $? "rootless-state-in-xdg"
asuser $N down >/tmp/downr.out 2>&1; check $? "rootless-down" "($(tr '\n' '|' </tmp/downr.out))"
sleep 1
left=$(for p in /proc/[0-9]*; do u=$(awk '/^Uid:/{print $2}' $p/status 2>/dev/null); [ -n "$u" ] && { [ "$u" = "$ruid" ] || { [ "$u" -ge 200000 ] && [ "$u" -lt 265536 ]; }; } && [ "$(awk '/^State:/{print $2}' $p/status)" != Z ] && echo "$(basename $p):$(tr '\0' ' ' <$p/cmdline)"; done)
[ -z "$left" ]; check $? "rootless-nothing-left" "($left)"
cd /

echo "BLACKBOX pass=$pass fail=$fail"
