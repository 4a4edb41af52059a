#!/usr/bin/env bash
# Makes Kinex's development PKI with the openssl CLI. Never commit its output.
#
#   certs/make-dev-pki.sh OUT_DIR [--trust-domain kinex.dev] [--force]
#
# OUT_DIR gets:
#   ca.pem                      the dev Kinex CA (its key, ca.key, stays beside it)
#   crl/<hash>.r0, ca.crl       the CA's CRL (the "revoked" fixture is on it)
#   services/<name>.pem|.key    one per service (gateway policy consent audit records):
#                               SAN DNS:localhost, IP:127.0.0.1, URI spiffe://TD/service/<name>;
#                               usable as server and as client (service-to-service mTLS)
#   agencies/<kind>-<code>-<role>.pem|.key
#                               one per line of certs/agencies.txt; only URI SAN
#                               spiffe://TD/<kind>/<code>/<role>
#   negative/expired.*          a valid agency identity whose validity ended in 2021
#   negative/revoked.*          a valid agency identity, revoked on the CRL
#   negative/other-ca.*         a valid agency identity signed by another CA
#   negative/no-san.*           signed by the Kinex CA, no SAN at all
#   negative/two-uris.*         signed by the Kinex CA, two URI SANs
#   negative/undeclared-<kind>.* a well-formed agency identity of each kind whose
#                               role policy/roles.textproto does not declare
#   audit-signing.key|.pub.pem  Ed25519 key pair that signs audit tree heads
#   audit-pseudonym.key         32-byte HMAC key (hex) pseudonymising children in the log
#   page-token.key              32-byte HMAC key (hex) that replicas share to bind page tokens
# Private keys are mode 0600. Re-running with an existing OUT_DIR does nothing
# unless --force is given (or agencies.txt changed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=""
td="kinex.dev"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --trust-domain) td="$2"; shift 2 ;;
    --trust-domain=*) td="${1#*=}"; shift ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "make-dev-pki: unknown option $1" >&2; exit 2 ;;
    *) out="$1"; shift ;;
  esac
done
[ -n "$out" ] || { echo "usage: make-dev-pki.sh OUT_DIR [--trust-domain TD] [--force]" >&2; exit 2; }
out=$(realpath -m "$out")

stamp="$td $(sha256sum "$here/agencies.txt" "$0" | sha256sum | cut -c1-16)"
if [ $force -eq 0 ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  echo "make-dev-pki: $out is up to date"
  exit 0
fi

umask 077
mkdir -p "$(dirname "$out")"
# Build in a private temporary directory and move it into place at the end,
# so concurrent runs (parallel tests, two terminals) never see a half PKI.
work=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{services,agencies,negative,crl,.ca/new,.other-ca/new}
cd "$work"

openssl_quiet() { openssl "$@" 2>/dev/null; }

# A minimal `openssl ca` configuration: the database lets us revoke and
# publish a CRL, and -startdate/-enddate let us make an expired certificate.
ca_conf() {  # ca_conf DIR
  cat <<CONF
[ ca ]
default_ca = kinex
[ kinex ]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 825
default_crl_days = 3650
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ ext_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CONF
}

make_ca() {  # make_ca DIR CN
  local dir=$1 cn=$2
  touch "$dir/index.txt"; echo 1000 > "$dir/serial"; echo 1000 > "$dir/crlnumber"
  ca_conf "$PWD/$dir" > "$dir/ca.cnf"
  openssl_quiet genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key"
  openssl_quiet req -new -x509 -key "$dir/ca.key" -sha256 -days 3650 -subj "/O=Kinex Dev/CN=$cn" \
    -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem"
}

# issue CA_DIR OUT_BASE CN SAN [startdate enddate]
# SAN is an openssl subjectAltName value, or "" for none.
issue() {
  local cadir=$1 base=$2 cn=$3 san=$4 start=${5:-} end=${6:-}
  local ext="$base.ext"
  {
    echo "basicConstraints = critical, CA:false"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = serverAuth, clientAuth"
    echo "authorityKeyIdentifier = keyid"
    if [ -n "$san" ]; then echo "subjectAltName = $san"; fi
  } > "$ext"
  openssl_quiet genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$base.key"
  openssl_quiet req -new -key "$base.key" -subj "/O=Kinex Dev/CN=$cn" -out "$base.csr"
  local dates=()
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  openssl_quiet ca -batch -config "$cadir/ca.cnf" -notext -extfile "$ext" "${dates[@]}" \
    -in "$base.csr" -out "$base.pem"
  rm -f "$base.csr" "$ext"
  chmod 600 "$base.key"
}

make_ca .ca "Kinex Dev CA"
make_ca .other-ca "Not Kinex CA"
cp .ca/ca.pem ca.pem

for svc in gateway policy consent audit records; do
  issue .ca "services/$svc" "kinex-$svc" "DNS:localhost, IP:127.0.0.1, URI:spiffe://$td/service/$svc"
done

n=0
while read -r kind code role rest; do
  case "$kind" in ''|\#*) continue ;; esac
  [ -n "$role" ] && [ -z "$rest" ] || { echo "make-dev-pki: agencies.txt: bad line: $kind $code $role $rest" >&2; exit 1; }
  issue .ca "agencies/$kind-$code-$role" "$kind $code $role" "URI:spiffe://$td/$kind/$code/$role"
  n=$((n + 1))
done < "$here/agencies.txt"

issue .ca negative/expired "expired" "URI:spiffe://$td/local-authority/E09000033/social-worker" \
  20200101000000Z 20210101000000Z
issue .ca negative/revoked "revoked" "URI:spiffe://$td/local-authority/E09000033/social-worker"
issue .other-ca negative/other-ca "other-ca" "URI:spiffe://$td/local-authority/E09000033/social-worker"
issue .ca negative/no-san "no-san" ""
issue .ca negative/two-uris "two-uris" \
  "URI:spiffe://$td/local-authority/E09000033/social-worker, URI:spiffe://$td/police/01/public-protection-officer"
issue .ca negative/undeclared-local-authority "undeclared" "URI:spiffe://$td/local-authority/E09000033/caretaker"
issue .ca negative/undeclared-virtual-school "undeclared" "URI:spiffe://$td/virtual-school/E09000033/caretaker"
issue .ca negative/undeclared-school "undeclared" "URI:spiffe://$td/school/137000/caretaker"
issue .ca negative/undeclared-health "undeclared" "URI:spiffe://$td/health/Y01234/caretaker"
issue .ca negative/undeclared-police "undeclared" "URI:spiffe://$td/police/01/caretaker"
issue .ca negative/undeclared-auditor "undeclared" "URI:spiffe://$td/auditor/kinex-dpo/intern"

openssl_quiet ca -config .ca/ca.cnf -revoke negative/revoked.pem -crl_reason keyCompromise
openssl_quiet ca -config .ca/ca.cnf -gencrl -out ca.crl
cp ca.crl "crl/$(openssl crl -hash -noout -in ca.crl).r0"

openssl_quiet genpkey -algorithm ed25519 -out audit-signing.key
openssl_quiet pkey -in audit-signing.key -pubout -out audit-signing.pub.pem
openssl rand -hex 32 > audit-pseudonym.key
openssl rand -hex 32 > page-token.key

# The CA's key stays with it (dev only); everything private is 0600.
cp .ca/ca.key ca.key
find . -name '*.key' -exec chmod 600 {} +
chmod 644 ca.pem ca.crl crl/*.r0 audit-signing.pub.pem services/*.pem agencies/*.pem negative/*.pem
echo "$stamp" > .stamp
cd ..
if [ $force -eq 0 ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  echo "make-dev-pki: $out was made by a concurrent run"
  exit 0
fi
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "make-dev-pki: wrote CA, 5 service, $n agency and 11 negative certificates to $out (trust domain $td)"
