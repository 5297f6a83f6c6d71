# Sourced by cluster.sh: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler. control_plane NAME ETCD_CLIENT ETCD_PEER API_PORT CM_PORT
# SCHED_PORT KUBECONFIG starts one; the real node's and kwok's each get
# their own (kwok's fake nodes stay out of the real one). All listen only
# in the namespace.
control_plane() {
	local n=$1 ec=$2 ep=$3 api=$4 cm=$5 sch=$6 kc=$7
	mkdir -p "$W/$n/etcd" "$W/$n/apiserver"
	start "$n-etcd" "$K8S_BIN/etcd" --name "$n" --data-dir "$W/$n/etcd" \
		--listen-client-urls "http://127.0.0.1:$ec" --advertise-client-urls "http://127.0.0.1:$ec" \
		--listen-peer-urls "http://127.0.0.1:$ep" --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
		--initial-cluster "$n=http://127.0.0.1:$ep" --unsafe-no-fsync --log-level warn
	start "$n-apiserver" "$K8S_BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ec" \
		--bind-address 0.0.0.0 --secure-port "$api" --advertise-address "$NODE_IP" \
		--service-cluster-ip-range "$SVC_CIDR" --cert-dir "$W/$n/apiserver" \
		--client-ca-file "$P/ca.crt" --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$P/sa.pub" \
		--service-account-signing-key-file "$P/sa.key" --authorization-mode Node,RBAC \
		--kubelet-client-certificate "$P/admin.crt" --kubelet-client-key "$P/admin.key" \
		--kubelet-preferred-address-types InternalIP \
		--allow-privileged=true --endpoint-reconciler-type lease
	wait_for "$n kube-apiserver /readyz" 90 inns "$K8S_BIN/kubectl" --kubeconfig "$kc" get --raw /readyz
	alive "$n-etcd"
	start "$n-controller-manager" "$K8S_BIN/kube-controller-manager" --kubeconfig "$kc" \
		--authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
		--bind-address 127.0.0.1 --secure-port "$cm" --leader-elect=false \
		--service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" \
		--use-service-account-credentials=false --cluster-cidr "$POD_CIDR" --allocate-node-cidrs=false \
		--flex-volume-plugin-dir "$W/$n/flex" --cert-dir "$W/$n/controller-manager"
	start "$n-scheduler" "$K8S_BIN/kube-scheduler" --kubeconfig "$kc" \
		--authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
		--bind-address 127.0.0.1 --secure-port "$sch" --leader-elect=false \
		--cert-dir "$W/$n/scheduler"
	wait_for "$n default ServiceAccount (controller-manager)" 60 inns "$K8S_BIN/kubectl" --kubeconfig "$kc" -n default get serviceaccount default
	alive "$n-scheduler"
}
control_plane main 2379 2380 6443 10257 10259 "$KC"
log "control plane: etcd, kube-apiserver, controller-manager, scheduler ready"
