# nucleus build and test entry points. `make test` must pass on a fresh
# Debian machine as root: it installs what the tests need first.

GO        ?= go
BIN       := bin/nucleus
PKGS      := ./...
# Debian packages the kernel tests need (installed by `make deps` when missing).
# docker.io (which brings iptables) is for the Docker-on-the-same-host tests in
# network/: they run their own dockerd inside a network namespace of their
# own; apt may start the package's docker service on a host where services
# start on install (not on the CI image, whose policy-rc.d forbids it).
# DB_PKGS are what examples/db runs and its end-to-end test (cmd/nucleus
# TestExampleDB) drives: PostgreSQL 15 (pgbench comes with postgresql-15,
# psql and pg_isready with postgresql-client-15; postgresql-15 is also for
# runtime's TestInitdbOnChownedVolume), Redis (redis-benchmark and redis-cli
# come with redis-tools) and the Python service's drivers. Where services
# start on install, Debian's own postgresql and redis-server take 5432 and
# 6379; the example and the test use other ports.
DB_PKGS   := postgresql-15 postgresql-client-15 redis-server redis-tools python3-psycopg2 python3-redis
DEB_PKGS  := gcc libc6-dev libseccomp-dev pkg-config slirp4netns passt nftables uidmap busybox-static iproute2 procps docker.io $(DB_PKGS)
PKG_CONFIG ?= pkg-config

.PHONY: build build-check test test-v2 test-v2-systemd test-k8s test-k8s-cluster k8s-tools deps check vet fmt-check demo bench bench-image clean

# nucleus is built without cgo (a static Go binary): neither the dynamic
# loader nor static glibc's start-up (its CPUID probing traps to the
# hypervisor in a VM) at every start, ~1 ms of each command (issue 15,
# bench/results/issue15-runtime.md); cmd/nucleus TestBinaryBuiltWithoutCgo
# keeps it so. nucleus-seccomp, the one part that needs cgo (libseccomp), is
# linked statically (glibc and libseccomp archives from libc6-dev and
# libseccomp-dev); osusergo and netgo keep user and DNS lookups in Go, so
# the static glibc never needs NSS modules at run time.
# nucleus-init is the small static in-sandbox init; nucleus finds it next to
# itself (it falls back to re-executing itself, slower and larger).
# nucleus-compose converts compose files; nucleus runs it from next to
# itself, so that compose-go (whose JSON Schema library does ~3.5 ms of work
# at package init) is not linked into every nucleus start (issue 15).
# nucleus-seccomp compiles seccomp filters with libseccomp (cgo, linked
# statically); nucleus runs it from next to itself when its
# BPF cache misses.
# nucleus-image pulls images and unpacks their layers; nucleus runs it from
# next to itself only when an image or its tree is missing, so that
# go-containerregistry, go-digest and klauspost/compress (~1 ms of package
# init) are not linked into every nucleus start either (issue 15).
STATIC := -tags osusergo,netgo -ldflags '-linkmode external -extldflags "-static"'
build: build-check
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/nucleus
	CGO_ENABLED=0 $(GO) build -o bin/nucleus-init ./cmd/nucleus-init
	CGO_ENABLED=0 $(GO) build -o bin/nucleus-compose ./cmd/nucleus-compose
	$(GO) build $(STATIC) -o bin/nucleus-seccomp ./cmd/nucleus-seccomp
	CGO_ENABLED=0 $(GO) build -o bin/nucleus-image ./cmd/nucleus-image

# build-check stops `make build` before the compiler does, with one line
# that names what is missing and the Debian package that brings it (Go; the
# C compiler cgo uses; pkg-config; libseccomp's pkg-config file and static
# archive; glibc's static archive: scripts/build-check.sh) and says to run
# `make deps` as root, instead of pkg-config's or cgo's error halfway
# through. It installs nothing itself. build_missing is only expanded when
# build-check runs; $(error) makes that line make's only output.
build_missing = $(shell GO='$(GO)' PKG_CONFIG='$(PKG_CONFIG)' sh scripts/build-check.sh)
build-check:
	$(if $(build_missing),$(error $(build_missing)))

# deps installs missing Debian packages (as root) and downloads Go modules.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run make deps as root)"; exit 1; fi; \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(GO) mod download

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

test: deps fmt-check vet build
	$(GO) test -count=1 -timeout 30m $(PKGS)

# k8s-tools builds Kubernetes v1.37.2 (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl), etcd, kwok, kubeconform and
# CoreDNS from source through the Go module proxy into a cache kept between
# runs (test/k8s/build-tools.sh; NUCLEUS_K8S_CACHE, default
# /var/cache/nucleus-k8s): about 20 minutes cold on 2 idle cores (46 while
# the machine was shared), nothing when up to date. Its module is test/k8s/tools, not the product's go.mod.
NUCLEUS_K8S_CACHE ?= /var/cache/nucleus-k8s
export NUCLEUS_K8S_CACHE
k8s-tools:
	test/k8s/build-tools.sh

# test-k8s runs every test package under test/k8s (build tag k8s, so `make
# test` leaves them out) against those binaries: test/k8s/apiserver checks
# the output of `nucleus export k8s` with a real kube-apiserver and etcd
# (server-side dry run) and kubeconform; a package added under test/k8s/
# (the single-node cluster test) runs here too, in the same command.
test-k8s: deps build k8s-tools
	$(GO) vet -tags k8s ./test/k8s/...
	NUCLEUS_BIN=$(CURDIR)/$(BIN) $(GO) test -tags k8s -count=1 -timeout 30m -v ./test/k8s/...

# test-k8s-cluster runs only test/k8s/cluster (part of test-k8s too): a real
# single-node cluster and a kwok control plane in a network namespace of
# its own, running the export (test/k8s/cluster/cluster.sh; about 1-2
# minutes once k8s-tools is built; installs containerd, runc and the CNI
# plugins when missing).
test-k8s-cluster: deps build k8s-tools
	NUCLEUS_BIN=$(CURDIR)/$(BIN) $(GO) test -tags k8s -count=1 -timeout 20m -v ./test/k8s/cluster/

# test-v2 boots Debian's own kernel under qemu as a pure cgroup v2 host and
# runs black-box CLI checks and the kernel test packages (runtime,
# runtime/cgroups, reconcile/host, security) there
# (test/v2vm; software emulation: several minutes). Root; installs qemu.
test-v2: deps
	test/v2vm/test-v2.sh .

# test-v2-systemd boots a minimal Debian image with systemd as PID 1 (built
# with debootstrap into .v2vm-systemd/ once, reused) on the same kernel: the
# daemon runs as examples/gitops's nucleus-daemon.service with two projects
# (test/v2vm/systemd; about 1-2 minutes with the image cached). Root.
test-v2-systemd: deps
	test/v2vm/systemd/test-v2-systemd.sh .

# demo brings examples/hello up with a detached supervisor, shows it, fetches
# the page it serves on 127.0.0.1:8080 and takes it down again (also when a
# step fails), leaving nothing behind; then prints how to do the same as an
# ordinary user.
DEMO := ./$(BIN) --file examples/hello/nucleus.yaml
demo: deps build
	@set -e; \
	trap '$(DEMO) down >/dev/null 2>&1 || true' EXIT; \
	echo '$$ nucleus up -d --wait'; $(DEMO) up -d --wait --wait-timeout 60s; \
	echo '$$ nucleus ps'; $(DEMO) ps; \
	echo '$$ fetch http://127.0.0.1:8080/'; \
	if command -v curl >/dev/null; then curl -fsS http://127.0.0.1:8080/; else busybox wget -qO- http://127.0.0.1:8080/; fi; \
	echo '$$ nucleus logs'; $(DEMO) logs --tail 5; \
	echo '$$ nucleus down'; $(DEMO) down; \
	echo; echo 'As an ordinary user (rootless: a range in /etc/subuid and /etc/subgid; make deps done as root):'; \
	echo '  ./bin/nucleus run -- id'; \
	echo '  cd examples/hello && ../../bin/nucleus up -d --wait && curl http://127.0.0.1:8080/ && ../../bin/nucleus down'; \
	echo 'What differs from root mode: README.md, "Rootless quick start".'

bench: deps build
	NUCLEUS_BIN=$(CURDIR)/$(BIN) ./bench/run.sh
	NUCLEUS_BIN=$(CURDIR)/$(BIN) ./bench/inittrace.sh
	NUCLEUS_BIN=$(CURDIR)/$(BIN) ./bench/reconcile.sh
	NUCLEUS_BIN=$(CURDIR)/$(BIN) ./bench/image.sh

# bench-image is only the image benchmarks of `make bench` (issue 12): pull
# + unpack against crane + tar, start from an image against the host view.
bench-image: deps build
	NUCLEUS_BIN=$(CURDIR)/$(BIN) ./bench/image.sh

clean:
	rm -rf bin
