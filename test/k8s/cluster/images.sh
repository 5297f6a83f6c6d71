# Sourced by cluster.sh: the images the node runs, built here (no registry
# is reachable): the pod sandbox (pause, the static program in pause/) and
# CoreDNS, each one static binary in a scratch image written as a docker
# archive by scripts/mkimage, and the project's own images (its Makefile
# builds an OCI layout). node.sh imports them with ctr.
PAUSE_IMAGE=nucleus.test/pause:1
COREDNS_IMAGE=nucleus.test/coredns:1
mkdir -p "$W/bin"
(cd "$REPO" && go build -o "$W/bin/mkimage" ./scripts/mkimage &&
	CGO_ENABLED=0 go build -o "$W/bin/pause" ./test/k8s/cluster/pause) ||
	fail "images: building mkimage and pause from $REPO"
"$W/bin/mkimage" --scratch --add "$W/bin/pause:/pause" --entrypoint '["/pause"]' \
	--archive "$W/images/pause.tar" --archive-ref "$PAUSE_IMAGE" >/dev/null
"$W/bin/mkimage" --scratch --add "$(readlink -f "$K8S_BIN/coredns"):/coredns" --entrypoint '["/coredns"]' \
	--archive "$W/images/coredns.tar" --archive-ref "$COREDNS_IMAGE" >/dev/null
# The project's image: an OCI layout tagged 1, tarred for ctr.
make -s -C "$FIXTURE" OUT="$W/images/project-layout" >"$W/log/project-image.log" 2>&1 ||
	fail "images: make -C $FIXTURE OUT=$W/images/project-layout ($W/log/project-image.log)"
tar -C "$W/images/project-layout" -cf "$W/images/project.tar" .
log "images: pause, coredns (scratch) and the project's layout built"
