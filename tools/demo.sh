#!/usr/bin/env bash
# Sets up and runs the whole Kinex system on localhost: installs what is
# missing, builds, makes the dev PKI under data/pki, starts every service in
# one process (--target=all) with SQLite under data/, seeds fictional demo
# children, and prints how to call it with kinexctl. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash tools/build.sh kinex kinexctl
data=$root/data
mkdir -p "$data"
certs/make-dev-pki.sh "$data/pki"
pki=$data/pki

cat > "$data/kinex.textproto" <<CONF
# Written by tools/demo.sh: the whole system in one process.
target: "all"
data_dir: "$data"
trust_domain: "kinex.dev"
tls {
  ca_file: "$pki/ca.pem"
  cert_file: "$pki/services/gateway.pem"
  key_file: "$pki/services/gateway.key"
  crl_dir: "$pki/crl"
}
listen { gateway: "127.0.0.1:7443" metrics: "127.0.0.1:9464" }
policy { policy_dir: "$root/policy" }
audit {
  signing_key_file: "$pki/audit-signing.key"
  pseudonym_key_file: "$pki/audit-pseudonym.key"
}
CONF

fifo=$(mktemp -u); mkfifo "$fifo"
"$root/build/bin/kinex" --config="$data/kinex.textproto" > "$fifo" 2>> "$data/kinex.log" &
kinex_pid=$!
trap 'kill -TERM $kinex_pid 2>/dev/null; wait $kinex_pid; rm -f "$fifo"' EXIT INT TERM
# Wait for the server's own "serving" line (or its exit), not a fixed sleep.
exec 3< "$fifo"
if ! read -r line <&3; then
  echo "demo: kinex did not start:" >&2
  tail -5 "$data/kinex.log" >&2
  exit 1
fi
echo "demo: $line"

if [ -x tools/demo/seed.sh ]; then
  bash tools/demo/seed.sh "$root/build/bin/kinexctl" "$pki"
fi

agent=$pki/agencies/virtual-school-E09000033-virtual-school-head
cat <<HELP

Kinex is running on 127.0.0.1:7443 (mutual TLS; dev PKI in $pki).
Call it as the Westminster virtual school head:

  export KINEX_ADDRESS=localhost:7443 KINEX_CA=$pki/ca.pem \\
         KINEX_CERT=$agent.pem KINEX_KEY=$agent.key KINEX_ACTOR="A. Example (VSH)"
  build/bin/kinexctl health
  build/bin/kinexctl --help

  build/bin/kinexctl children list --purpose=education-support --output=csv
  build/bin/kinexctl record get --upn=X213700025001 --purpose=EDUCATION_SUPPORT

Verify the disclosure receipt you were given yourself, offline (any agency:
the audit log's public keys are not secret; pin them once):

  build/bin/kinexctl record get --upn=X213700025001 --purpose=EDUCATION_SUPPORT \\
      --receipt-out=receipt.json
  build/bin/kinexctl audit signing-key --out=audit-keys.pem
  build/bin/kinexctl audit receipt verify receipt.json --offline --public-key=audit-keys.pem

Read the audit log as the auditor (switch certificates: the log is
readable by auditors only):

  export KINEX_CERT=$pki/agencies/auditor-kinex-dpo-auditor.pem \\
         KINEX_KEY=$pki/agencies/auditor-kinex-dpo-auditor.key KINEX_ACTOR="A. Auditor (DPO)"
  build/bin/kinexctl audit query --child-upn=X213700025001
  build/bin/kinexctl audit verify --save-head=head.json

Other demo agencies: ls $pki/agencies/   Server log (JSON lines): $data/kinex.log
Metrics: curl http://127.0.0.1:9464/metrics
Press Ctrl-C to stop.
HELP
cat <&3 > /dev/null &
wait $kinex_pid
