#!/usr/bin/env bash
# tests/e2e/kubernetes_test.sh ESD ES EXAMPLE_DIR
#
# Renders examples/kubernetes with `kubectl kustomize` (offline: no cluster
# here), turns the objects into JSON with `kubectl annotate --local` (which
# needs no server either) and checks them with jq: both StatefulSets probe
# /readyz and /livez, claim ReadWriteOnce volumes, run as non-root with
# every capability dropped and resources set; a PodDisruptionBudget,
# headless Services and a NetworkPolicy exist; and every esd flag the pods
# pass is one `esd --help` lists, except --http-listen (added by the metrics
# and health work of the same issue).
source "$(dirname "$0")/lib.sh"
e2e_init "$1" "$2"
dir=$3
command -v kubectl >/dev/null || fail "kubectl is needed (scripts/deps.sh installs it)"

check "kubectl kustomize renders the example offline"
# No kubeconfig: nothing may reach out to a cluster.
export KUBECONFIG=$TMP/no-kubeconfig HOME=$TMP
kubectl kustomize "$dir" >"$TMP/rendered.yaml" 2>"$TMP/kustomize.err" ||
  fail "kubectl kustomize failed: $(cat "$TMP/kustomize.err")"
kubectl annotate --local -f "$TMP/rendered.yaml" -o json rendered=1 >"$TMP/objects.json" \
  2>"$TMP/annotate.err" || fail "kubectl annotate --local failed: $(cat "$TMP/annotate.err")"
# One object per document, or a List of them (older kubectl).
jq -s '[.[] | if .kind == "List" then .items[] else . end]' "$TMP/objects.json" >"$TMP/all.json"
q() { jq -r "$@" "$TMP/all.json"; }
assert_eq "$(q '[.[].kind] | sort | join(",")')" \
  "NetworkPolicy,PodDisruptionBudget,Service,Service,Service,StatefulSet,StatefulSet" "objects"

check "both StatefulSets: probes, volumes, security, resources"
for sts in esd-primary esd-replica; do
  s() { q --arg n "$sts" '.[] | select(.kind == "StatefulSet" and .metadata.name == $n)' | jq -r "$@"; }
  c() { s '.spec.template.spec.containers[] | select(.name == "esd")' | jq -r "$@"; }
  assert_eq "$(c '.readinessProbe.httpGet.path')" "/readyz" "$sts readiness probe"
  assert_eq "$(c '.livenessProbe.httpGet.path')" "/livez" "$sts liveness probe"
  assert_eq "$(c '.readinessProbe.httpGet.port')" "http" "$sts probe port"
  assert_eq "$(c '.ports[] | select(.name == "http") | .containerPort')" "7152" "$sts http port"
  assert_eq "$(s '[.spec.volumeClaimTemplates[].spec.accessModes[]] | join(",")')" \
    "ReadWriteOnce" "$sts volume access modes"
  assert_eq "$(s '.spec.volumeClaimTemplates[0].metadata.name')" \
    "$(c '.volumeMounts[] | select(.mountPath == "/var/lib/esd") | .name')" "$sts data volume"
  assert_eq "$(s '.spec.template.spec.securityContext.runAsNonRoot')" "true" "$sts runAsNonRoot"
  [ "$(s '.spec.template.spec.securityContext.runAsUser')" -gt 0 ] || fail "$sts runs as uid 0"
  assert_eq "$(s '.spec.template.spec.securityContext.seccompProfile.type')" "RuntimeDefault" \
    "$sts seccomp"
  assert_eq "$(c '.securityContext.capabilities.drop | join(",")')" "ALL" "$sts capabilities"
  assert_eq "$(c '.securityContext.allowPrivilegeEscalation')" "false" "$sts privilege escalation"
  assert_eq "$(c '.securityContext.readOnlyRootFilesystem')" "true" "$sts read-only root"
  for r in requests.cpu requests.memory limits.cpu limits.memory; do
    [ "$(c ".resources.$r // empty")" != "" ] || fail "$sts sets no resources.$r"
  done
  [ "$(s '.spec.template.spec.terminationGracePeriodSeconds')" -ge 10 ] ||
    fail "$sts gives esd too little time to stop"
  assert_eq "$(c '.args | index("--listen") as $i | .[$i + 1]')" "tcp://0.0.0.0:7150" "$sts --listen"
  assert_eq "$(c '.args | index("--http-listen") as $i | .[$i + 1]')" "0.0.0.0:7152" \
    "$sts --http-listen"
  # A wildcard bind takes keys; --insecure is for the HTTP probes' wildcard.
  assert_eq "$(c '.args | index("--key-file") as $i | .[$i + 1]')" "/etc/esd/keys/node.key" \
    "$sts --key-file"
  assert_eq "$(c '.args | index("--allow") as $i | .[$i + 1]')" "/etc/esd/allow/allow" "$sts --allow"
  assert_eq "$(c '.args | index("--insecure") != null')" "true" "$sts --insecure (HTTP)"
  assert_eq "$(c '.volumeMounts[] | select(.mountPath == "/etc/esd/keys") | .name')" keys \
    "$sts mounts the key"
  assert_eq "$(s '.spec.template.spec.volumes[] | select(.name == "keys") | .secret | "\(.secretName) \(.defaultMode)"')" \
    "esd-node-key 288" "$sts: the key's Secret, 0440"
  assert_eq "$(s '.spec.template.spec.volumes[] | select(.name == "allow") | .configMap.name')" \
    esd-allow "$sts: the allow-list's ConfigMap"
  # Each selector picks its own pods.
  assert_eq "$(s '.spec.selector.matchLabels | to_entries | map(.key + "=" + .value) | sort | join(",")')" \
    "$(s '.spec.template.metadata.labels | to_entries | map(.key + "=" + .value) | sort | join(",")')" \
    "$sts selector and pod labels"
done
r() { q '.[] | select(.kind == "StatefulSet" and .metadata.name == "esd-replica")' | jq -r "$@"; }
assert_eq "$(r '.spec.template.spec.containers[0].args | index("--follow") as $i | .[$i + 1]')" \
  "tcp://esd-primary-0.esd-primary:7150" "the replicas follow the primary's stable name"
assert_eq "$(r '.spec.template.spec.containers[0].args | index("--role") as $i | .[$i + 1]')" \
  "replica" "the replicas' role"

check "headless Services for both, a client Service, a PDB, a NetworkPolicy"
for svc in esd-primary esd-replica; do
  assert_eq "$(q --arg n "$svc" '.[] | select(.kind == "Service" and .metadata.name == $n) | .spec.clusterIP')" \
    "None" "$svc is headless"
  assert_eq "$(q --arg n "$svc" '.[] | select(.kind == "StatefulSet" and .metadata.name == $n) | .spec.serviceName')" \
    "$svc" "$svc's StatefulSet names its Service"
done
assert_eq "$(q '.[] | select(.kind == "Service" and .metadata.name == "esd") | .spec.type')" \
  "ClusterIP" "the client Service stays cluster-internal"
assert_eq "$(q '.[] | select(.kind == "PodDisruptionBudget") | .spec.selector.matchLabels["app.kubernetes.io/component"]')" \
  "replica" "the PDB covers the replicas"
assert_eq "$(q '[.[] | select(.kind == "NetworkPolicy") | .spec.ingress[].from[].podSelector.matchExpressions // empty | .[] | select(.key == "esd-client") | .values[]] | join(",")')" \
  "true" "the NetworkPolicy lets in pods labelled esd-client=true"

check "every esd flag in the manifests is one esd --help lists (but --http-listen, not there yet)"
"$ESD" --help >"$TMP/esd-help.txt"
flags=$(q '.[] | select(.kind == "StatefulSet") | .spec.template.spec.containers[].args[]' |
  grep -- '^--' | sort -u)
[ -n "$flags" ] || fail "no flags found in the manifests"
for f in $flags; do
  [ "$f" = "--http-listen" ] && continue
  grep -q -- "$f\b" "$TMP/esd-help.txt" || fail "esd --help does not list $f"
done
echo "flags: $(echo $flags)"
