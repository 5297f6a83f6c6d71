#!/usr/bin/env bash
# Builds a real Kubernetes (and etcd, kwok, kubeconform, CoreDNS) from source
# through the Go module proxy into a stable cache, so the k8s tests need no
# download and a kept machine builds nothing twice.
#
#   test/k8s/build-tools.sh            build what is missing or out of date
#   NUCLEUS_K8S_CACHE=DIR ...          cache root (default /var/cache/nucleus-k8s)
#
# The binaries land in $NUCLEUS_K8S_CACHE/v1.37.2/bin; .complete there is
# written last, holding the key of the build, once every binary is present.
# The key is the hash of the tools module (go.mod, go.sum), of the pins
# below and of the Go version: any change rebuilds (a change of the build
# flags alone does not: remove $NUCLEUS_K8S_CACHE/v1.37.2). A cold build
# (Go modules already downloaded) took 45m39s on this 2-core machine while
# other builds ran (load 12-20); about 20 minutes when idle.
set -euo pipefail

K8S_VERSION=v1.37.2
# Installed with `go install` from their own modules (each pins its deps).
GO_INSTALLS=(
	sigs.k8s.io/kwok/cmd/kwok@v0.8.0
	sigs.k8s.io/kwok/cmd/kwokctl@v0.8.0
	github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0
	github.com/coredns/coredns@v1.15.0
)
# Built from the tools module: name in bin/ -> package.
K8S_CMDS=(
	kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver
	kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
	kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
	kubelet=k8s.io/kubernetes/cmd/kubelet
	kube-proxy=k8s.io/kubernetes/cmd/kube-proxy
	kubectl=k8s.io/kubernetes/cmd/kubectl
	etcd=nucleus/test/k8s/tools/etcd
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/tools
cache=${NUCLEUS_K8S_CACHE:-/var/cache/nucleus-k8s}
bin=$cache/$K8S_VERSION/bin
stamps=$cache/$K8S_VERSION/stamps

key=$( {
	cat "$tools/go.mod" "$tools/go.sum"
	printf '%s\n' "${GO_INSTALLS[@]}" "${K8S_CMDS[@]}"
	go version
} | sha256sum | cut -d' ' -f1)

if [[ -f $bin/.complete && $(cat "$bin/.complete") == "$key" ]]; then
	echo "k8s tools: up to date in $bin"
	exit 0
fi
mkdir -p "$bin" "$stamps"
rm -f "$bin/.complete"

# fresh NAME: the binary exists and was built under this key.
fresh() { [[ -x $bin/$1 && -f $stamps/$1 && $(cat "$stamps/$1") == "$key" ]]; }

# kubectl parses the server's and its own version: without these it reports
# v0.0.0-master and refuses skew checks.
major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
	ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

start=$SECONDS
names=() pkgs=()
for e in "${K8S_CMDS[@]}"; do
	n=${e%%=*}
	fresh "$n" && continue
	names+=("$n") pkgs+=("${e#*=}")
done
if ((${#names[@]})); then
	echo "k8s tools: building ${names[*]}"
	tmp=$(mktemp -d "$cache/$K8S_VERSION/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tools" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
	for i in "${!names[@]}"; do
		n=${names[$i]} p=${pkgs[$i]}
		mv -f "$tmp/${p##*/}" "$bin/$n"
		echo "$key" >"$stamps/$n"
	done
fi

for m in "${GO_INSTALLS[@]}"; do
	p=${m%@*} n=${p##*/}
	fresh "$n" && continue
	echo "k8s tools: go install $m"
	# Outside any module, so go install takes the tool's own go.mod.
	(cd / && GOBIN=$bin GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$m")
	echo "$key" >"$stamps/$n"
done

for e in "${K8S_CMDS[@]}" "${GO_INSTALLS[@]}"; do
	n=${e%%=*}; n=${n%@*}; n=${n##*/}
	[[ -x $bin/$n ]] || { echo "k8s tools: $bin/$n missing after the build" >&2; exit 1; }
done
echo "$key" >"$bin/.complete"
echo "k8s tools: done in $((SECONDS - start)) s into $bin"
