# Sourced by cluster.sh: multi-node scheduling. A second control plane of
# its own (so no fake node can take the real node's pods), kwok faking 3
# nodes, and the fixture's export applied there: the replicas of its
# multi-replica Deployment must land on distinct nodes (the scheduler's
# default spreading; and the export's topologySpreadConstraints or
# anti-affinity, when it has them, must hold).
KNODES=3
control_plane kwok 12379 12380 16443 20257 20259 "$KWOK_KC"
# kwok 0.8 has no built-in stages: the node (initialize, heartbeat) and pod
# (ready, complete, delete) stages come from its module, at the version
# build-tools.sh installs.
KWOK_MOD=$(grep -oE 'sigs.k8s.io/kwok/cmd/kwok@v[0-9.]+' "$REPO/test/k8s/build-tools.sh" | sed 's|/cmd/kwok||')
KWOK_DIR=$(cd "$W" && GOFLAGS=-mod=mod go mod download -json "$KWOK_MOD" | jq -r .Dir) ||
	fail "go mod download $KWOK_MOD (kwok's stages)"
for f in "$KWOK_DIR"/kustomize/stage/node/fast/node-initialize.yaml "$KWOK_DIR"/kustomize/stage/node/heartbeat/node-heartbeat.yaml \
	"$KWOK_DIR"/kustomize/stage/pod/fast/pod-{ready,complete,delete}.yaml; do
	[ -f "$f" ] || fail "kwok stage $f missing from $KWOK_MOD"
	cat "$f"
	echo ---
done >"$W/kwok-stages.yaml"
start kwok "$K8S_BIN/kwok" --kubeconfig "$KWOK_KC" --config "$W/kwok-stages.yaml" --manage-all-nodes=false \
	--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
	--server-address 127.0.0.1:10247 --cidr 10.$((B + 1)).128.0/20 --node-ip "$NODE_IP"
for ((i = 0; i < KNODES; i++)); do
	cat <<EOC
apiVersion: v1
kind: Node
metadata:
  name: fake-$i
  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: fake-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok, topology.kubernetes.io/zone: zone-$((i % 2))}
status:
  allocatable: {cpu: "8", memory: 16Gi, pods: "110"}
  capacity: {cpu: "8", memory: 16Gi, pods: "110"}
---
EOC
done >"$W/manifests/kwok-nodes.yaml"
kk apply -f "$W/manifests/kwok-nodes.yaml" >/dev/null
wait_for "kwok's $KNODES fake nodes Ready ($W/log/kwok.log)" 60 kk wait --for=condition=Ready node --all --timeout=1s
alive kwok

kk apply --validate=strict -f "$W/manifests/fixture.yaml" >"$W/log/apply-kwok.log" 2>&1 ||
	{ cat "$W/log/apply-kwok.log" >&2; fail "kubectl apply of the fixture's export (kwok cluster)"; }
multi=$(kk -n "$FNS" get deploy -o jsonpath='{range .items[?(@.spec.replicas>1)]}{.metadata.name}{" "}{end}')
[ -n "$multi" ] || fail "the fixture's export has no Deployment with more than one replica"
for d in $multi; do
	want=$(kk -n "$FNS" get deploy "$d" -o jsonpath='{.spec.replicas}')
	[ "$want" -le "$KNODES" ] || fail "$d has $want replicas, more than the $KNODES fake nodes: raise KNODES"
	kk -n "$FNS" rollout status "deploy/$d" --timeout=120s >/dev/null ||
		{ kk -n "$FNS" get pods -o wide >&2 || true; fail "kwok: $d did not roll out"; }
	sel=$(kk -n "$FNS" get deploy "$d" -o jsonpath='{.spec.selector.matchLabels}' | jq -r 'to_entries|map("\(.key)=\(.value)")|join(",")')
	nodes=$(kk -n "$FNS" get pods -l "$sel" --field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort)
	distinct=$(sort -u <<<"$nodes" | grep -c .)
	[ "$distinct" = "$want" ] || fail "kwok: $d's $want replicas run on $distinct node(s) ($(tr '\n' ' ' <<<"$nodes")), want one each"
	tsc=$(kk -n "$FNS" get deploy "$d" -o jsonpath='{.spec.template.spec.topologySpreadConstraints}')
	aa=$(kk -n "$FNS" get deploy "$d" -o jsonpath='{.spec.template.spec.affinity.podAntiAffinity}')
	log "kwok: $d's $want replicas on $distinct of $KNODES nodes: $(tr '\n' ' ' <<<"$nodes")(spread constraints: ${tsc:-none}; anti-affinity: ${aa:-none})"
	if [ -n "$tsc$aa" ]; then
		# Scaled past the node count, the skew per hostname stays within
		# maxSkew (or, with required anti-affinity, the extra replica waits).
		kk -n "$FNS" scale "deploy/$d" --replicas=$((KNODES + 1)) >/dev/null
		kk -n "$FNS" rollout status "deploy/$d" --timeout=60s >/dev/null || true
		counts=$(kk -n "$FNS" get pods -l "$sel" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep . | sort | uniq -c | awk '{print $1}' | sort -n)
		skew=$(($(tail -1 <<<"$counts") - $(head -1 <<<"$counts")))
		[ "$skew" -le 1 ] || fail "kwok: $d scaled to $((KNODES + 1)): per-node counts $(tr '\n' ' ' <<<"$counts"), skew $skew > 1"
		log "kwok: $d scaled to $((KNODES + 1)): per-node counts $(tr '\n' ' ' <<<"$counts")"
	fi
done
