# Sourced by cluster.sh: a CA, the apiserver's serving certificate (valid for
# the node address, the kubernetes Service and loopback), one admin client
# certificate (system:masters) that every component and kubectl use, the
# service-account signing key, and kubeconfigs for both control planes.
P=$W/pki
ossl() { openssl "$@" 2>>"$W/log/openssl.log" >/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$P/ca.key" -out "$P/ca.crt" -subj "/CN=nk8s-$ID-ca"
# leaf NAME SUBJECT [SAN]: a key and a certificate signed by the CA.
leaf() {
	local ext="basicConstraints=CA:FALSE"
	[ -n "${3:-}" ] && ext="$ext
subjectAltName=$3"
	printf '%s\n' "$ext" >"$P/$1.ext"
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "$2"
	ossl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 -out "$P/$1.crt" -extfile "$P/$1.ext"
}
leaf apiserver "/CN=kube-apiserver" \
	"IP:127.0.0.1,IP:$NODE_IP,IP:$SVC_API,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
leaf admin "/O=system:masters/CN=nk8s-admin"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$P/sa.key"
ossl pkey -in "$P/sa.key" -pubout -out "$P/sa.pub"
# kubeconfig FILE PORT
kubeconfig() {
	cat >"$1" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: nk8s
  cluster: {server: "https://127.0.0.1:$2", certificate-authority: "$P/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$P/admin.crt", client-key: "$P/admin.key"}
contexts:
- name: nk8s
  context: {cluster: nk8s, user: admin}
current-context: nk8s
EOK
}
kubeconfig "$KC" 6443
kubeconfig "$KWOK_KC" 16443
[ -s "$P/apiserver.crt" ] && [ -s "$P/admin.crt" ] && [ -s "$P/sa.pub" ] || fail "pki: openssl made no certificates ($W/log/openssl.log)"
log "pki: CA, apiserver and admin certificates, service-account key"
