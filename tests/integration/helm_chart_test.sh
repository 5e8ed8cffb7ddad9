#!/usr/bin/env bash
# The Helm chart: `helm lint` clean, `helm template` renders for the default values and the
# TLS / cert-manager / existing-secret / no-auth variants, kubectl parses every rendered object
# into API objects offline (`kubectl annotate --local -o json -f`: create/apply --dry-run=client
# need a server for discovery, and there is none here), and every object of a
# built-in kind validates against the Kubernetes JSON schemas (tests/support/validate_k8s.cjs).
# Also checks the contract with the programs: names, labels, flags, probes, RBAC verbs.
# Usage: helm_chart_test.sh <source dir> <tools dir>
set -euo pipefail
src=$1
tools=$2
bin=$("$src/scripts/helm-tools.sh" "$tools")
helm=$bin/helm
kubectl=$bin/kubectl
chart=$src/helm/container-tracer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {  # check <description> <command...>
  local what=$1; shift
  if "$@" >"$work/out" 2>&1; then echo "ok: $what"; else echo "FAIL: $what"; sed 's/^/    /' "$work/out"; fails=$((fails + 1)); fi
}

lint() { "$helm" lint --strict "$chart" "$@" | tee "$work/lint"; ! grep -q "\[WARNING\]\|\[ERROR\]" "$work/lint"; }
validate() {  # validate <name> <helm args...>
  local name=$1; shift
  "$helm" template tracer "$chart" --namespace tracing "$@" >"$work/$name.yaml"
  "$kubectl" annotate --local -o json -f "$work/$name.yaml" container-tracer/validated=1 >"$work/$name.json"
  KUBERNETES_MODELS="$tools/npm/node_modules/kubernetes-models" node "$src/tests/support/validate_k8s.cjs" <"$work/$name.json"
}

check "helm lint (defaults)" lint
check "helm lint (tls + cert-manager)" lint --set tls.enabled=true --set tls.certManager.enabled=true \
  --set tls.certManager.issuerRef.name=ca-issuer
check "render+validate defaults" validate defaults
check "render+validate tls provided secret" validate tls --set tls.enabled=true --set tls.secretName=my-tls
check "render+validate cert-manager" validate cm --set tls.enabled=true --set tls.certManager.enabled=true \
  --set tls.certManager.issuerRef.name=ca-issuer --set svc.service.type=ClusterIP
check "render+validate no auth, otlp, fixed nodePort" validate noauth --set auth.enabled=false \
  --set node.otlpEndpoint=collector:4317 --set svc.service.nodePort=31080 --set node.hostPort=0
check "render+validate existing token secret" validate existing --set auth.existingSecret=my-tokens
check "render+validate node TLS via cert-manager" validate nodetls --set tls.nodes.enabled=true \
  --set tls.certManager.enabled=true --set tls.certManager.issuerRef.name=ca-issuer
check "render+validate node TLS from Secrets, separate CA bundle" validate nodeca --set tls.nodes.enabled=true \
  --set tls.nodes.secretName=node-certs --set tls.nodeCA.secretName=node-ca --set tls.nodeCA.key=bundle.pem \
  --set tls.nodes.serverName=tracer-node.example
check "cert-manager without issuer fails" bash -c "! '$helm' template t '$chart' --set tls.enabled=true --set tls.certManager.enabled=true"

d=$work/defaults.yaml
has() { grep -q -- "$1" "$2"; }
check "node DaemonSet privileged, hostPID, host mounts" bash -c "grep -q 'privileged: true' $d && grep -q 'hostPID: true' $d && grep -q -- '--procfs-path=/host/proc' $d && grep -q -- '--sysfs-path=/host/sys' $d && grep -q 'mountPath: /host/run' $d"
check "node hostPort and headless Service container-tracer-node" bash -c "grep -q 'hostPort: 8080' $d && grep -q 'name: container-tracer-node' $d && grep -q 'clusterIP: None' $d"
check "pods labelled app=container-tracer-backend" has "app: container-tracer-backend" "$d"
check "token Secret generated and wired to both programs" bash -c "grep -q 'node-token:' $d && grep -q -- '--token-file=/etc/container-tracer/token/node-token' $d && grep -q -- '--token-file=/etc/container-tracer/token/svc-token' $d && grep -q -- '--node-token-file=' $d"
check "probes on /healthz and /readyz" bash -c "grep -q 'path: /healthz' $d && grep -q 'path: /readyz' $d"
check "svc Service is NodePort by default" has "type: NodePort" "$d"
check "RBAC: only list/watch on pods and endpoints" bash -c "grep -A3 'resources: \[pods, endpoints\]' $d | grep -q 'verbs: \[list, watch\]' && ! grep -q 'verbs:.*\(get\|create\|update\|delete\|\*\)' $d"
check "tls values give --tls-cert and HTTPS probes" bash -c "grep -q -- '--tls-cert=/etc/container-tracer/tls/tls.crt' $work/tls.yaml && grep -q 'scheme: HTTPS' $work/tls.yaml && grep -q 'secretName: my-tls' $work/tls.yaml"
check "cert-manager Certificate rendered" bash -c "grep -q 'kind: Certificate' $work/cm.yaml && grep -q 'name: ca-issuer' $work/cm.yaml"
check "node TLS: nodes serve HTTPS, tracer-svc verifies with --node-ca and the node name" bash -c "n=$work/nodetls.yaml; grep -q -- '--node-ca=/etc/container-tracer/node-ca/ca.crt' \$n && grep -q -- '--node-tls-server-name=container-tracer-node.tracing.svc' \$n && grep -q 'secretName: tracer-container-tracer-node-tls' \$n && grep -q -- '- container-tracer-node.tracing.svc' \$n && [ \$(grep -c -- '--tls-cert=' \$n) = 1 ] && grep -q 'scheme: HTTPS' \$n"
check "node TLS with a separate CA Secret and key" bash -c "n=$work/nodeca.yaml; grep -q 'secretName: node-ca' \$n && grep -q 'key: \"bundle.pem\", path: ca.crt' \$n && grep -q 'secretName: node-certs' \$n && grep -q -- '--node-tls-server-name=tracer-node.example' \$n && ! grep -q 'kind: Certificate' \$n"
check "defaults: plain HTTP to the nodes" bash -c "! grep -q -e '--node-ca' $d && ! grep -q 'scheme: HTTPS' $d"
check "otlp endpoint passed" grep -q -e "--otlp-endpoint=collector:4317" "$work/noauth.yaml"
check "no auth: no token flags" bash -c "! grep -q -- '--token-file' $work/noauth.yaml"

echo "$(( $(grep -c '^check ' "$0") - fails )) passed, $fails failed"
[ "$fails" -eq 0 ]
