#!/usr/bin/env bash
# A first session with es: a few orders appended, read back with jq, an
# optimistic-concurrency conflict, and the node's status. Expects a running
# esd (./setup.sh starts one) at $ES_SERVER or tcp://127.0.0.1:7150.
set -euo pipefail
run=$(date +%s)
es append "order-$run" --type OrderPlaced --data '{"product":"apple","quantity":3,"unit_price":0.5}'
printf '%s\n' \
  '{"type":"OrderPlaced","data":{"product":"pear","quantity":2,"unit_price":0.8}}' \
  '{"type":"OrderShipped","data":{"carrier":"post"}}' |
  es append "order-$run-b"
echo "# every event of category order, as [stream, version, type]:"
es read --all --category order | jq -c '[.stream, .version, .type]'
echo "# a stale expected version exits 3:"
if es append "order-$run" --expect no-stream --type OrderPlaced --data '{}'; then
  echo "unexpected success" >&2
  exit 1
else
  echo "exit $?"
fi
es -o text status
