# Sourced by cluster.sh: the export of the fixture project (and of gate/)
# applied to the real node, and what must hold there: rollout, services by
# name through CoreDNS, the published port on 127.0.0.1, readiness gating a
# Service's endpoints, limits in the pods' cgroup files, NetworkPolicies
# accepted (validated only: nothing enforces them here).
if [ -n "${NUCLEUS_BIN:-}" ]; then cp "$NUCLEUS_BIN" "$W/bin/nucleus"; else (cd "$REPO" && go build -o "$W/bin/nucleus" ./cmd/nucleus) || fail "building nucleus"; fi
export_project() { # export_project NAME FILE [FLAG...]: the manifests at $W/manifests/NAME.yaml
	local n=$1 f=$2
	shift 2
	IMAGE="oci:$W/images/project-layout:1" "$W/bin/nucleus" export k8s -f "$f" "$@" \
		>"$W/manifests/$n.yaml" 2>"$W/log/export-$n.stderr" ||
		{ cat "$W/log/export-$n.stderr" >&2; fail "nucleus export k8s -f $f $*"; }
}
# hostUsers: false (a user namespace per pod) needs containerd 2.0 and runc
# 1.2; Debian 12's containerd 1.6 and runc 1.1 cannot, and the kubelet
# refuses such pods: the node gets the export with --host-users, which may
# differ from the default export (kwok's cluster gets that) by that line only.
NODE_FLAGS=()
[ "$(containerd --version | awk '{print $3}' | cut -d. -f1)" -ge 2 ] || NODE_FLAGS=(--host-users)
for m in fixture gate; do
	f=$FIXTURE/nucleus.yaml
	[ "$m" = gate ] && f=$HERE/gate/nucleus.yaml
	export_project "$m" "$f"
	export_project "$m.node" "$f" "${NODE_FLAGS[@]}"
	d=$(diff "$W/manifests/$m.yaml" "$W/manifests/$m.node.yaml" | grep -E '^[<>]' || true)
	[ -z "$(grep -v '^< *hostUsers: false$' <<<"$d")" ] ||
		fail "$m: the export with ${NODE_FLAGS[*]:-no flag} differs from the default by more than hostUsers: $d"
done
# The export names a local layout localhost/PROJECT/DIR:TAG: import the
# layout under each such name.
for ref in $(grep -hoE 'image: *"?localhost/[^" ]+' "$W"/manifests/{fixture,gate}.yaml | sed -E 's/image: *"?//' | sort -u); do
	ctr_ images import --base-name "${ref%:*}" "$W/images/project.tar" >>"$W/log/ctr-import.log" 2>&1 || fail "ctr import as $ref"
done
grep -q 'imagePullPolicy: Never' "$W/manifests/fixture.yaml" || fail "the export of a local layout has no imagePullPolicy: Never"
FNS=$(awk '/^kind: Namespace/{n=1} n && /^  name:/{print $2; exit}' "$W/manifests/fixture.yaml")
GNS=$(awk '/^kind: Namespace/{n=1} n && /^  name:/{print $2; exit}' "$W/manifests/gate.yaml")
[ -n "$FNS" ] && [ -n "$GNS" ] || fail "the exports have no Namespace ($W/manifests)"

# The fixture's named volume: a PersistentVolume for its claim, on a
# hostPath under $W (no provisioner here), of the class the claim asks for.
mkdir -p "$W/pv" && chmod 0777 "$W/pv"
SC=$(awk '/^kind: PersistentVolumeClaim/{n=1} n && /storageClassName:/{print $2; exit}' "$W/manifests/fixture.yaml" | tr -d '"')
cat >"$W/manifests/pv.yaml" <<EOC
apiVersion: v1
kind: PersistentVolume
metadata: {name: nk8s-$ID-pv}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: "$SC"
  hostPath: {path: $W/pv, type: Directory}
EOC
k apply -f "$W/manifests/pv.yaml" >/dev/null

for m in fixture gate; do
	k apply --validate=strict -f "$W/manifests/$m.node.yaml" >"$W/log/apply-$m.log" 2>&1 ||
		{ cat "$W/log/apply-$m.log" >&2; fail "kubectl apply of $m's export"; }
done
for d in $(k -n "$FNS" get deploy -o name); do
	k -n "$FNS" rollout status "$d" --timeout=180s >/dev/null ||
		{ k -n "$FNS" describe pods >&2 || true; fail "$FNS $d: rollout did not complete in 180s"; }
done
log "fixture: $(k -n "$FNS" get deploy -o name | tr '\n' ' ')rolled out"

# (busybox 1.35 wget -T segfaults here: no -T; timeout or kubectl bound it.)
# Names through CoreDNS, the Service through kube-proxy: from client, web
# by its short name, and the name's address is web's ClusterIP.
page=$(cat "$FIXTURE/site/index.html")
webip=$(k -n "$FNS" get svc web -o jsonpath='{.spec.clusterIP}')
out=$(k -n "$FNS" exec deploy/client -- /bin/busybox nslookup "web.$FNS.svc.cluster.local" 2>&1) ||
	fail "client: nslookup web.$FNS.svc.cluster.local: $out"
grep -q "$webip" <<<"$out" || fail "client: web resolves to ($out), want the Service's ClusterIP $webip"
got=$(k -n "$FNS" exec deploy/client -- /bin/busybox wget -q -O - http://web:8080/) ||
	fail "client: wget http://web:8080/ failed"
[ "$got" = "$page" ] || fail "client: http://web:8080/ answered '$got', want the fixture's page"
log "client reaches web by name (CoreDNS: web -> $webip, kube-proxy -> a web pod)"

# The published port: client's hostPort 8080 on 127.0.0.1 (of the node)
# serves the copy client fetched from web.
wait_for "client's copy of web's page on 127.0.0.1:8080" 60 \
	sh -c "[ \"\$(nsenter --net=/proc/$HOLDER/ns/net -- timeout 10 busybox wget -q -O - http://127.0.0.1:8080/)\" = \"\$0\" ]" "$page"
log "the published port 127.0.0.1:8080 answers with web's page, fetched by name"

# Limits in the cgroup files of web's container: memory.limit_in_bytes and
# cpu.cfs_quota_us from the pod's limits.
to_bytes() { # a Kubernetes quantity (Ki Mi Gi k M G or plain) in bytes
	local v=$1
	case "$v" in
	*Ki) echo $((${v%Ki} * 1024)) ;; *Mi) echo $((${v%Mi} * 1048576)) ;; *Gi) echo $((${v%Gi} * 1073741824)) ;;
	*k) echo $((${v%k} * 1000)) ;; *M) echo $((${v%M} * 1000000)) ;; *G) echo $((${v%G} * 1000000000)) ;;
	*) echo "$v" ;;
	esac
}
to_quota() { # cpu quantity -> CFS quota per 100000 us period
	local v=$1
	case "$v" in *m) echo $((${v%m} * 100)) ;; *) awk -v c="$v" 'BEGIN{printf "%d", c * 100000}' ;; esac
}
pod=$(k -n "$FNS" get pods -l app.kubernetes.io/name=web -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
[ -n "$pod" ] || pod=$(k -n "$FNS" get pods -o name | grep /web- | head -1 | cut -d/ -f2)
[ -n "$pod" ] || fail "no web pod in $FNS"
uid=$(k -n "$FNS" get pod "$pod" -o jsonpath='{.metadata.uid}')
cid=$(k -n "$FNS" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
cid=${cid#containerd://}
qos=$(k -n "$FNS" get pod "$pod" -o jsonpath='{.status.qosClass}' | tr 'A-Z' 'a-z')
mem=$(k -n "$FNS" get pod "$pod" -o jsonpath='{.spec.containers[0].resources.limits.memory}')
cpu=$(k -n "$FNS" get pod "$pod" -o jsonpath='{.spec.containers[0].resources.limits.cpu}')
[ -n "$mem" ] && [ -n "$cpu" ] || fail "web's pod $pod has no memory and cpu limits (memory '$mem', cpu '$cpu'): the fixture sets both"
qdir=kubepods/$qos
[ "$qos" = guaranteed ] && qdir=kubepods
cg=/sys/fs/cgroup/memory$CGROOT/$qdir/pod$uid/$cid
[ -d "$cg" ] || fail "web's container cgroup $cg does not exist (QoS $qos)"
got=$(cat "$cg/memory.limit_in_bytes")
[ "$got" = "$(to_bytes "$mem")" ] || fail "$cg/memory.limit_in_bytes = $got, want $(to_bytes "$mem") (limits.memory $mem)"
cgc=/sys/fs/cgroup/cpu,cpuacct$CGROOT/$qdir/pod$uid/$cid
[ -d "$cgc" ] || cgc=/sys/fs/cgroup/cpu$CGROOT/$qdir/pod$uid/$cid
got=$(cat "$cgc/cpu.cfs_quota_us")
[ "$got" = "$(to_quota "$cpu")" ] || fail "$cgc/cpu.cfs_quota_us = $got, want $(to_quota "$cpu") (limits.cpu $cpu)"
log "limits: memory.limit_in_bytes $(cat "$cg/memory.limit_in_bytes") (memory $mem), cpu.cfs_quota_us $got (cpu $cpu) in $qdir/pod$uid"

# NetworkPolicies are accepted (strict validation above) but not enforced:
# no policy agent runs here.
np=$(k -n "$FNS" get networkpolicy -o name | wc -l)
[ "$np" -gt 0 ] || fail "the fixture's export has no NetworkPolicy in $FNS (it has an egress allow rule)"
log "NetworkPolicy: $np accepted by the apiserver (validated, not enforced here)"

# Readiness: neither gate pod is ready at first, so the Service has no ready
# endpoint; make one healthy and only it may answer.
gpods=$(k -n "$GNS" get pods -o name | grep /gate- | cut -d/ -f2)
[ "$(wc -w <<<"$gpods")" = 2 ] || fail "gate: want 2 pods, have: $gpods"
wait_for "gate's pods Running" 90 sh -c "[ \$(nsenter --net=/proc/$HOLDER/ns/net -- $K8S_BIN/kubectl --kubeconfig $KC -n $GNS get pods -o jsonpath='{.items[*].status.phase}' | tr ' ' '\n' | grep -c Running) = 2 ]"
ready_eps() { k -n "$GNS" get endpointslices -l kubernetes.io/service-name=gate -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.targetRef.name}{" "}{end}'; }
sleep 6 # a few probe periods with both failing
[ -z "$(ready_eps)" ] || fail "gate: endpoints $(ready_eps) are ready before any pod is healthy"
good=$(head -1 <<<"$gpods")
bad=$(tail -1 <<<"$gpods")
wait_for "touch /tmp/www/ready in $good (between restarts)" 120 k -n "$GNS" exec "$good" -- /bin/busybox touch /tmp/www/ready
for ((i = 0; i < 60; i++)); do [ "$(ready_eps)" = "$good " ] && break; sleep 1; done
[ "$(ready_eps)" = "$good " ] || fail "gate: ready endpoints '$(ready_eps)', want only $good"
# kube-proxy writes its rules a moment after the endpoint turns ready.
wait_for "client: http://gate.$GNS:8080/ with one ready gate pod" 30 \
	k -n "$FNS" exec deploy/client -- /bin/busybox wget -q -O /dev/null "http://gate.$GNS:8080/"
# Every answer must come from the ready pod. A refused fetch is retried for
# a while (a restart of $good leaves the Service without a ready endpoint and
# kube-proxy rejects; gate's start_period, a startupProbe, keeps the liveness
# probe from causing one); an answer from $bad never is.
for ((i = 0; i < 6; i++)); do
	end=$((SECONDS + 30))
	until got=$(k -n "$FNS" exec deploy/client -- /bin/busybox wget -q -O - "http://gate.$GNS:8080/" 2>/dev/null); do
		((SECONDS < end)) || fail "client: http://gate.$GNS:8080/ failed for 30 s with one ready gate pod"
		sleep 0.5
	done
	[ "$got" = "$good" ] || fail "client: gate answered from '$got', want only the ready pod $good ($bad fails its readiness probe)"
done
[ "$(k -n "$GNS" get pod "$bad" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = False ] ||
	fail "gate: $bad is Ready, but its health check cannot pass"
log "readiness: only $good (healthy) answers for Service gate; $bad (failing probe) is kept out"
