#!/bin/sh
# Compile the kernel test packages (static, like bin/nucleus) so the VM runs
# them on real cgroup v2. Usage: build-gotests.sh NUCLEUS_SRC OUT_DIR
set -eu
SRC=$(cd "${1:?nucleus source}" && pwd); mkdir -p "${2:?out dir}/extra"; X=$(cd "$2/extra" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$SRC"
# GOTEST_PKGS picks the packages (default: every kernel test package that
# runs without Go in the VM); GOTEST_RUN is passed on as -test.run. An entry
# PKG=REGEX runs only REGEX of PKG (cmd/nucleus: its rootless hub tests; the
# rest of its suite is make test's).
PKGS=${GOTEST_PKGS:-runtime/cgroups runtime reconcile/host security image/unpack image/store image/pull image/resolve reconcile/images cmd/nucleus=^TestRootless(Hub|HubAfterSupervisorKill|RunOnHub|DownAfterFailedUp|DownAfterRunJoined)\$}
: > "$X/packages"
echo "${GOTEST_RUN:-.}" > "$X/run-filter"
# Tests that need a host program the VM image does not carry are left to
# make test: PostgreSQL (~40 MB; what it tests of the kernel runs here through
# TestVolumeChown*) and the Go toolchain (TestRuntimeDoesNotDependOnSpec runs
# go list: a property of the build, not of the kernel).
echo "${GOTEST_SKIP:-^(TestInitdbOnChownedVolume|TestRuntimeDoesNotDependOnSpec)\$}" > "$X/skip-filter"
# CI set here: the tests run with CI set in the VM too (gotests-in-vm.sh).
if [ -n "${CI:-}" ]; then echo 1 > "$X/ci"; else rm -f "$X/ci"; fi
for e in $PKGS; do
  p=${e%%=*}
  n=$(echo $p | tr / _)
  echo "$n" >> "$X/packages"
  if [ "$p" != "$e" ]; then echo "${e#*=}" > "$X/$n.run"; else rm -f "$X/$n.run"; fi
  go test -c -tags osusergo,netgo -ldflags '-linkmode external -extldflags "-static"' -o "$X/$n.test" ./$p 2>&1 | grep -v 'statically linked applications requires' || true
  mkdir -p "$X/$n"; [ -d $p/testdata ] && cp -r $p/testdata "$X/$n/"
done
# The runtime tests `go build` a probe; the VM has no Go: prebuild it.
mkdir -p "$X/bin"; CGO_ENABLED=0 go build -o "$X/bin/probe" ./runtime/testdata/probe
# The security suite builds nucleus, nucleus-init and its own probe: the same.
CGO_ENABLED=0 go build -o "$X/bin/escape-probe" ./security/testdata/escape-probe
cp "$SRC/bin/nucleus" "$SRC/bin/nucleus-init" "$SRC/bin/nucleus-compose" "$SRC/bin/nucleus-seccomp" "$SRC/bin/nucleus-image" "$X/bin/"
cp "$HERE/gotests-in-vm.sh" "$X/run.sh"
ls -la "$X"
