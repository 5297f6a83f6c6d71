#!/bin/sh
# Runs inside the VM (from tests.sh): the kernel test packages that
# build-gotests.sh compiled, on a pure v2 host. NUCLEUS_INIT: use the
# installed init (the test binary would otherwise run `go build`).
X=/test/extra
export NUCLEUS_INIT=/usr/local/bin/nucleus-init
# A `go` that hands out prebuilt binaries (go build -o OUT ./testdata/probe).
mkdir -p /tmp/gobin
cat > /tmp/gobin/go <<'SHIM'
#!/bin/sh
[ "$1" = build ] && [ "$2" = -o ] && [ -f /test/extra/bin/$(basename "$4") ] && exec cp /test/extra/bin/$(basename "$4") "$3"
echo "go shim: unsupported: $*" >&2; exit 1
SHIM
chmod +x /tmp/gobin/go; export PATH=$PATH:/tmp/gobin
# Temporary directories on ext4 when there is a scratch disk.
if mountpoint -q /scratch 2>/dev/null || grep -q ' /scratch ' /proc/mounts; then export TMPDIR=/scratch; fi
echo "TMPDIR=${TMPDIR:-/tmp} ($(df -T ${TMPDIR:-/tmp} 2>/dev/null | awk 'NR==2{print $2}'))"
run=$(cat $X/run-filter 2>/dev/null || echo .)
for n in $(cat $X/packages); do
  # Skips are listed: tests of the v1 backend and of the hybrid layout skip
  # on a pure v2 host, and are not run with CI set for that reason.
  echo "--- go test $n"
  t=$(cut -d' ' -f1 /proc/uptime)
  ( cd $X/$n && timeout 600 $X/$n.test -test.v -test.count=1 -test.timeout 580s -test.run "$run" > /tmp/$n.log 2>&1 ); rc=$?
  grep -E '^(--- (FAIL|SKIP)|FAIL|ok|PASS$)|prerequisite|^\s+\S+_test.go:[0-9]+:' /tmp/$n.log | grep -v 'report: map' | head -80 | sed 's/^/    /'
  if [ $rc != 0 ]; then
    echo "    --- output of the failed tests (last 150 lines without passes):"
    grep -v -E '^\s*(=== (RUN|PAUSE|CONT)|--- PASS)' /tmp/$n.log | tail -150 | sed 's/^/    | /'
  fi
  echo "go test $n: rc=$rc in $(awk -v a=$t '{print $1-a}' /proc/uptime)s; $(grep -c '^--- PASS' /tmp/$n.log) passed, $(grep -c '^--- FAIL' /tmp/$n.log) failed, $(grep -c '^--- SKIP' /tmp/$n.log) skipped (top-level tests)"
  [ $rc = 0 ] && echo "PASS gotest[$n]" || echo "FAIL gotest[$n] rc=$rc"
done
