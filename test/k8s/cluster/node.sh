# Sourced by cluster.sh: containerd (own root, state and socket; CRI with
# runc and the CNI bridge + portmap), the images imported, the kubelet and
# kube-proxy, and CoreDNS as a Deployment.
#
# restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc cannot
# lower oom_score_adj to the -998 the kubelet asks for the sandbox (or -997
# for Guaranteed pods); containerd caps every request at its own score.
mkdir -p "$W/containerd" "$W/runc"
cat >"$W/containerd/config.toml" <<EOC
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$W/containerd.sock"
[ttrpc]
  address = "$W/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$W/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$W/cni/net.d"
    max_conf_num = 1
EOC
# One bridge in the namespace, addresses from POD_CIDR kept under $W, no
# masquerade (pods have no route out anyway), portmap for hostPort.
cat >"$W/cni/net.d/10-nk8s.conflist" <<EOC
{
  "cniVersion": "1.0.0",
  "name": "nk8s-$ID",
  "plugins": [
    {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$W/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOC
start containerd containerd --config "$W/containerd/config.toml"
wait_for "containerd" 30 ctr_ version
for img in pause coredns; do
	ctr_ images import "$W/images/$img.tar" >>"$W/log/ctr-import.log" 2>&1 || fail "ctr import $img.tar ($W/log/ctr-import.log)"
done
log "containerd $(containerd --version | awk '{print $3}') up; images: $(ctr_ images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

# The kubelet. failCgroupV1: false: this host has hybrid cgroups (v1
# controllers). Its pods' cgroups go under cgroupRoot $CGROOT, made here for
# each v1 controller so the end can prove they are gone. Paths that default
# to /var/lib/kubelet, /var/log/pods and the volume plugin dir are under $W.
# imageGCHighThresholdPercent 100: the imported images cannot be pulled
# again, so they are never collected. Eviction thresholds are near zero:
# the shared machine's disk or memory must not evict the test's pods.
for c in /sys/fs/cgroup/*/; do
	[ -e "$c/cgroup.procs" ] && [ "$(basename "$c")" != unified ] && mkdir -p "$c$CGROOT"
done
# A new v1 cpuset holds no CPU and no memory node until given its parent's.
if [ -d "/sys/fs/cgroup/cpuset$CGROOT" ]; then
	cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$CGROOT/cpuset.cpus"
	cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$CGROOT/cpuset.mems"
fi
mkdir -p "$W/kubelet/root" "$W/kubelet/pods-logs" "$W/kubelet/volume-plugins"
printf 'nameserver 127.0.0.1\n' >"$W/kubelet/resolv.conf" # for dnsPolicy Default: no host resolver
cat >"$W/kubelet/config.yaml" <<EOC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $CGROOT
containerRuntimeEndpoint: unix://$W/containerd.sock
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $W/kubelet/resolv.conf
failSwapOn: false
oomScoreAdj: 0
podLogsDir: $W/kubelet/pods-logs
volumePluginDir: $W/kubelet/volume-plugins
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
registerNode: true
syncFrequency: 10s
EOC
start kubelet "$K8S_BIN/kubelet" --config "$W/kubelet/config.yaml" --kubeconfig "$KC" \
	--root-dir "$W/kubelet/root" --cert-dir "$W/kubelet/pki" --node-ip "$NODE_IP" --hostname-override "$NODE"
wait_for "node $NODE Ready (kubelet, $W/log/kubelet.log)" 120 k wait --for=condition=Ready "node/$NODE" --timeout=1s
alive kubelet

# kube-proxy in iptables mode (no IPVS on this kernel). conntrack: 0 leaves
# the host-wide conntrack table size and timeouts alone.
cat >"$W/kube-proxy.yaml" <<EOC
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KC}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
oomScoreAdj: 0
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOC
start kube-proxy "$K8S_BIN/kube-proxy" --config "$W/kube-proxy.yaml"
wait_for "kube-proxy /healthz ($W/log/kube-proxy.log)" 60 inns bash -c 'exec 3<>/dev/tcp/127.0.0.1/10256'
log "node: kubelet Ready, kube-proxy up"

# CoreDNS: the kubernetes plugin only (no forward: nothing outside).
cat >"$W/manifests/coredns.yaml" <<EOC
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: system:coredns}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system:coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 5
        loop
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        resources: {limits: {memory: 128Mi}, requests: {cpu: 50m, memory: 32Mi}}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
EOC
k apply -f "$W/manifests/coredns.yaml" >/dev/null
k -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null ||
	{ k -n kube-system describe pods >&2 || true; fail "CoreDNS did not roll out (pods described above; $W/log/kubelet.log)"; }
log "CoreDNS: rolled out behind $DNS_IP"
