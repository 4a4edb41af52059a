#!/usr/bin/env bash
# Seeds the fictional demo children through the public Exchange API, each
# part published by its owning agency with that agency's own certificate:
# the local authority first (by its LA child id; its part names the school,
# GP and force working with the child), then the school, health, virtual
# school and police by the Kinex id the LA's publish returned, each proving
# the child's date of birth.
# The JSON files under tools/demo/children/ are example PublishRecordRequests
# for integrators. Names and people are fictional; NHS numbers are in the
# 999 range, which is never issued to patients.
#
#   tools/demo/seed.sh KINEXCTL PKI_DIR [ADDRESS]
set -euo pipefail
kinexctl=$1
pki=$2
address=${3:-localhost:7443}
here=$(cd "$(dirname "$0")" && pwd)
marker="$pki/../.demo-seeded"
if [ -f "$marker" ]; then
  echo "seed: demo children already published"
  exit 0
fi

ctl() {  # ctl AGENCY-CERT-NAME ARGS...
  local who=$1; shift
  "$kinexctl" --address="$address" --ca="$pki/ca.pem" \
    --cert="$pki/agencies/$who.pem" --key="$pki/agencies/$who.key" \
    --actor="Demo seeder" "$@"
}
field() {  # field FILE NAME: the first "NAME": "value" in a JSON file
  grep -o "\"$2\": \"[^\"]*\"" "$1" | head -1 | cut -d'"' -f4
}

dob() {  # dob LA_JSON: the child's date of birth as YYYY-MM-DD
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["record"]["identity"]["date_of_birth"]; print("%04d-%02d-%02d" % (d["year"], d["month"], d["day"]))' "$1"
}

n=0
for dir in "$here"/children/*/; do
  la=$(field "$dir/la.json" la_code)
  kid=$(ctl "local-authority-$la-social-worker" --output=csv \
          record publish --from-json="$dir/la.json" | sed -n 2p | cut -d, -f1)
  # Every other agency attaches by the Kinex id the LA shared and proves the
  # child's date of birth; the LA's part names them, so they are confirmed.
  proof="--proof-dob=$(dob "$dir/la.json")"
  if [ -f "$dir/school.json" ]; then
    urn=$(field "$dir/school.json" current_school_urn)
    ctl "school-$urn-designated-teacher" record publish --from-json="$dir/school.json" \
      --kinex-id="$kid" "$proof" > /dev/null
  fi
  ctl health-Y01234-health-practitioner record publish --from-json="$dir/health.json" \
    --kinex-id="$kid" "$proof" > /dev/null
  if [ -f "$dir/virtual-school.json" ]; then
    ctl "virtual-school-$la-virtual-school-head" record publish \
      --from-json="$dir/virtual-school.json" --kinex-id="$kid" > /dev/null
  fi
  if [ -f "$dir/police.json" ]; then
    ctl police-01-public-protection-officer record publish --from-json="$dir/police.json" \
      --kinex-id="$kid" "$proof" > /dev/null
  fi
  n=$((n + 1))
  echo "seed: $(basename "$dir") -> $kid"
done
touch "$marker"
echo "seed: published $n demo children"
