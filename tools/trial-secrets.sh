#!/usr/bin/env bash
# Turns a development PKI (certs/make-dev-pki.sh) into the Secrets the kinex
# Helm chart's default values expect, for a TRIAL release. Never for
# production: the dev CA's private key sits next to its certificate.
#
#   tools/trial-secrets.sh PKI_DIR [--release NAME] [--namespace NS]
#                          [--cluster-domain D] [--apply]
#
# Prints (or, with --apply, pipes into `kubectl apply -n NS -f -`) as YAML:
#   kinex-<t>-tls       (t = gateway policy consent audit records) type
#                       kubernetes.io/tls with ca.crt, tls.crt, tls.key:
#                       a fresh key and certificate per service, signed by
#                       PKI_DIR/ca.key, with the SANs the chart's cert-manager
#                       Certificates get (the only URI SAN
#                       spiffe://<trust domain>/service/<t>; DNS <svc>,
#                       <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.<domain>,
#                       localhost; IP 127.0.0.1). The PKI's own service
#                       certificates carry only localhost, and kinex checks
#                       the upstream's host name, so they cannot be used as is.
#   kinex-audit-keys    signing.key (Ed25519 PEM) and pseudonym.key
#   kinex-page-tokens   page-token.key (the key replicas share)
# The trust domain is read from PKI_DIR's gateway certificate (it must match
# the chart's trustDomain; make-dev-pki.sh and the chart both default to
# kinex.dev). PKI_DIR is only read. The names are the chart's defaults
# (tls.existingSecrets, audit.keys.existingSecret, and the page-token Secret
# for pageTokens.existingSecret). A trial install then is:
#
#   certs/make-dev-pki.sh /tmp/kinex-pki
#   kubectl create namespace kinex
#   tools/trial-secrets.sh /tmp/kinex-pki --release kinex --namespace kinex --apply
#   helm install kinex helm/kinex -n kinex --set postgresql.mode=trial \
#     --set pageTokens.existingSecret=kinex-page-tokens
#
# --release must be the helm release name (it names the Services, so the
# certificates' DNS SANs); --namespace the release's namespace.
set -euo pipefail

usage() {
  sed -n '6,7p' "$0" | sed 's/^# *//' >&2
  exit 2
}

pki=""
release="kinex"
namespace="kinex"
cluster_domain="cluster.local"
apply=0
chart_name="kinex"
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=${2:?}; shift 2 ;;
    --release=*) release=${1#*=}; shift ;;
    --namespace|-n) namespace=${2:?}; shift 2 ;;
    --namespace=*) namespace=${1#*=}; shift ;;
    --cluster-domain) cluster_domain=${2:?}; shift 2 ;;
    --cluster-domain=*) cluster_domain=${1#*=}; shift ;;
    --apply) apply=1; shift ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "trial-secrets: unknown option $1" >&2; usage ;;
    *) [ -z "$pki" ] || usage; pki=$1; shift ;;
  esac
done
[ -n "$pki" ] || usage

fail() { echo "trial-secrets: $*" >&2; exit 1; }

for f in ca.pem ca.key services/gateway.pem audit-signing.key audit-pseudonym.key page-token.key; do
  [ -r "$pki/$f" ] || fail "$pki/$f is missing: make the PKI with certs/make-dev-pki.sh $pki"
done
name_re='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
[[ $release =~ $name_re ]] || fail "--release \"$release\" is not a valid helm release name"
[[ $namespace =~ $name_re ]] || fail "--namespace \"$namespace\" is not a valid namespace name"
[[ $cluster_domain =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] ||
  fail "--cluster-domain \"$cluster_domain\" is not a DNS name"
if [ $apply -eq 1 ]; then
  command -v kubectl >/dev/null 2>&1 || fail "--apply needs kubectl on PATH"
fi

# The chart's resource prefix ("kinex.fullname" without nameOverride /
# fullnameOverride): the release name if it contains the chart name, else
# <release>-kinex; cut to 50 characters.
if [[ $release == *"$chart_name"* ]]; then
  fullname=$release
else
  fullname="$release-$chart_name"
fi
fullname=${fullname:0:50}
fullname=${fullname%-}

td=$(openssl x509 -in "$pki/services/gateway.pem" -noout -ext subjectAltName 2>/dev/null |
  grep -o 'URI:spiffe://[^/]*/service/gateway' | sed 's#URI:spiffe://##; s#/service/gateway##') ||
  true
[ -n "$td" ] || fail "$pki/services/gateway.pem has no spiffe://<trust domain>/service/gateway URI SAN"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

b64() { base64 -w0 <"$1"; }

# secret NAME TYPE KEY=FILE...
secret() {
  local name=$1 type=$2
  shift 2
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n' "$name"
  printf '  labels:\n    app.kubernetes.io/part-of: kinex\n    kinex.dev/not-for-production: "true"\n'
  printf 'type: %s\ndata:\n' "$type"
  local kv
  for kv in "$@"; do
    printf '  %s: %s\n' "${kv%%=*}" "$(b64 "${kv#*=}")"
  done
}

{
  for t in gateway policy consent audit records; do
    svc="$fullname-$t"
    san="URI:spiffe://$td/service/$t, DNS:$svc, DNS:$svc.$namespace, DNS:$svc.$namespace.svc"
    san="$san, DNS:$svc.$namespace.svc.$cluster_domain, DNS:localhost, IP:127.0.0.1"
    printf '%s\n' \
      "basicConstraints = critical, CA:false" \
      "keyUsage = critical, digitalSignature, keyEncipherment" \
      "extendedKeyUsage = serverAuth, clientAuth" \
      "authorityKeyIdentifier = keyid" \
      "subjectKeyIdentifier = hash" \
      "subjectAltName = $san" >"$work/$t.ext"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$t.key" 2>/dev/null ||
      fail "openssl genpkey failed for $t"
    openssl req -new -key "$work/$t.key" -subj "/O=Kinex Trial/CN=$svc" -out "$work/$t.csr" \
      2>/dev/null || fail "openssl req failed for $t"
    openssl x509 -req -in "$work/$t.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 90 -sha256 -extfile "$work/$t.ext" \
      -out "$work/$t.pem" 2>/dev/null || fail "signing the $t certificate with $pki/ca.key failed"
    secret "kinex-$t-tls" kubernetes.io/tls \
      "ca.crt=$pki/ca.pem" "tls.crt=$work/$t.pem" "tls.key=$work/$t.key"
  done
  secret kinex-audit-keys Opaque \
    "signing.key=$pki/audit-signing.key" "pseudonym.key=$pki/audit-pseudonym.key"
  secret kinex-page-tokens Opaque "page-token.key=$pki/page-token.key"
} >"$work/secrets.yaml"

if [ $apply -eq 1 ]; then
  kubectl apply -n "$namespace" -f "$work/secrets.yaml"
else
  cat "$work/secrets.yaml"
fi
echo "trial-secrets: 7 Secrets for release \"$release\" (objects $fullname-*) in namespace" \
  "\"$namespace\", trust domain $td; install with --set postgresql.mode=trial" \
  "--set pageTokens.existingSecret=kinex-page-tokens" >&2
