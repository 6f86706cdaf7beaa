#!/usr/bin/env bash
# examples/orders/place-orders.sh: places the example's orders (the write
# side of CQRS): one OrderPlaced event per order, in stream order-<id>.
#   ./place-orders.sh            # against $ES_SERVER, or es's default node
set -euo pipefail
ES=${ES:-es}
place() {  # place ID PRODUCT QUANTITY UNIT_PRICE
  local rc=0
  "$ES" append "order-$1" --expect no-stream -t OrderPlaced \
    -d "{\"product\":\"$2\",\"quantity\":$3,\"unit_price\":$4}" >/dev/null || rc=$?
  if [ "$rc" -eq 3 ]; then
    echo "order-$1 exists: these orders were placed on this node before. Run on a fresh" \
      "node (see README.md: a throwaway data directory and port)." >&2
  fi
  return "$rc"
}
place 1 apple 3 0.5
place 2 pear 2 0.75
place 3 apple 10 0.5
place 4 pear 1 0.8
place 5 apple 1 0.45
echo "placed 5 orders"
