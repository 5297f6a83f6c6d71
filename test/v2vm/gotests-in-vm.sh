#!/bin/sh
# Runs inside the VM (from tests.sh): the kernel test packages that
# build-gotests.sh compiled, on a pure v2 host. NUCLEUS_INIT and
# NUCLEUS_SECCOMP: use the installed init and filter compiler (the test
# binary would otherwise run `go build`).
X=/test/extra
export NUCLEUS_INIT=/usr/local/bin/nucleus-init
export NUCLEUS_SECCOMP=/usr/local/bin/nucleus-seccomp
# A `go` that hands out prebuilt binaries (go build -o OUT ./testdata/probe).
mkdir -p /tmp/gobin
cat > /tmp/gobin/go <<'SHIM'
#!/bin/sh
b=$(basename "$4"); [ "$b" = . ] && b=$(basename "$3")   # cmd/nucleus builds "." as nucleus
[ "$1" = build ] && [ "$2" = -o ] && [ -f /test/extra/bin/$b ] && exec cp /test/extra/bin/$b "$3"
echo "go shim: unsupported: $*" >&2; exit 1
SHIM
chmod +x /tmp/gobin/go; export PATH=$PATH:/tmp/gobin
# Temporary directories on ext4 when there is a scratch disk.
if mountpoint -q /scratch 2>/dev/null || grep -q ' /scratch ' /proc/mounts; then export TMPDIR=/scratch; fi
echo "TMPDIR=${TMPDIR:-/tmp} ($(df -T ${TMPDIR:-/tmp} 2>/dev/null | awk 'NR==2{print $2}'))"
run=$(cat $X/run-filter 2>/dev/null || echo .)
skip=$(cat $X/skip-filter 2>/dev/null)
# CI mode (make test-v2 with CI set): a missing prerequisite fails a test
# instead of skipping it (testutil.Require), and any other top-level skip
# but the re-executed helpers (Test...Helper) fails the package.
[ -f $X/ci ] && export CI=1 && echo "CI=1: skips fail"
for n in $(cat $X/packages); do
  # Skips are listed: the tests are backend-neutral, so only re-executed
  # helpers (Test...Helper) are expected to skip.
  echo "--- go test $n"
  t=$(cut -d' ' -f1 /proc/uptime)
  prun=$run; [ -f $X/$n.run ] && prun=$(cat $X/$n.run)   # PKG=REGEX of GOTEST_PKGS
  ( cd $X/$n && timeout 600 $X/$n.test -test.v -test.count=1 -test.timeout 580s -test.run "$prun" ${skip:+-test.skip "$skip"} > /tmp/$n.log 2>&1 ); rc=$?
  grep -E '^(--- (FAIL|SKIP)|FAIL|ok|PASS$)|prerequisite|^\s+\S+_test.go:[0-9]+:' /tmp/$n.log | grep -v 'report: map' | head -80 | sed 's/^/    /'
  if [ $rc != 0 ]; then
    echo "    --- output of the failed tests (last 150 lines without passes):"
    grep -v -E '^\s*(=== (RUN|PAUSE|CONT)|--- PASS)' /tmp/$n.log | tail -150 | sed 's/^/    | /'
  fi
  if [ -n "${CI:-}" ]; then
    skipped=$(grep -E '^--- SKIP' /tmp/$n.log | awk '{print $3}' | grep -v 'Helper$' | tr '\n' ' ')
    [ -n "$skipped" ] && echo "    skipped with CI set: $skipped" && [ $rc = 0 ] && rc=1
  fi
  echo "go test $n: rc=$rc in $(awk -v a=$t '{print $1-a}' /proc/uptime)s; $(grep -c '^--- PASS' /tmp/$n.log) passed, $(grep -c '^--- FAIL' /tmp/$n.log) failed, $(grep -c '^--- SKIP' /tmp/$n.log) skipped (top-level tests)"
  [ $rc = 0 ] && echo "PASS gotest[$n]" || echo "FAIL gotest[$n] rc=$rc"
done
