#!/usr/bin/env bash
# tests/bench/replay_bench.sh ESD ES [EVENTS]: the rate of `es replay` over
# EVENTS events (default 1,000,000) into 10, 10,000 and 100,000 partitions,
# with a counting reducer and with the orders example's (a sum and a product
# per event). One log serves all: each event's data carries the three keys.
# Prints events/s per reducer and partition count (best of 2 runs), then
# the time a hosted projection takes from es project add to lag 0.
set -euo pipefail
ESD=$1
ES=$2
EVENTS=${3:-1000000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/es-replay-bench.XXXXXX")
ESD_PID=""
cleanup() {
  if [ -n "$ESD_PID" ] && kill -0 "$ESD_PID" 2>/dev/null; then
    timeout 10 "$ES" stop >/dev/null 2>&1 || kill -TERM "$ESD_PID"
    wait "$ESD_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
PORT=$((20000 + RANDOM % 10000))
export ES_SERVER=tcp://127.0.0.1:$PORT
"$ESD" --data "$TMP/data" --listen "$ES_SERVER" --publish 'tcp://127.0.0.1:*' 2>"$TMP/esd.log" &
ESD_PID=$!
for _ in $(seq 1 100); do "$ES" --timeout 1 status >/dev/null 2>&1 && break; sleep 0.1; done

echo "replay_bench: $EVENTS events, esd $ESD, es $ES" >&2
start=$(date +%s.%N)
awk -v n="$EVENTS" 'BEGIN {
  for (i = 0; i < n; i++)
    printf("{\"stream\":\"order-%d\",\"type\":\"OrderPlaced\",\"data\":{\"k10\":\"p%d\",\"k10k\":\"p%d\",\"k100k\":\"p%d\",\"quantity\":%d,\"unit_price\":0.5}}\n",
           i % 1000, i % 10, i % 10000, i % 100000, 1 + i % 5)
}' | split -l 10000 --filter "timeout 120 \"$ES\" append --batch 10000 >/dev/null" -
echo "preload: $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf("%.1f", b - a) }') s" >&2

# Two reducers: a count (the simplest), and the orders example's sum and
# product.
count_reducer='def init: 0; def when_OrderPlaced: .state + 1;'
orders_reducer='def init: {quantity: 0, total: 0};
def when_OrderPlaced: .event.data as $o | .state | .quantity = .quantity + $o.quantity | .total = .total + $o.quantity * $o.unit_price;'
for reducer in count orders; do
  for key in k10 k10k k100k; do
    file=$TMP/$reducer-$key.jq
    {
      echo 'def from: {category: "order", types: ["OrderPlaced"]};'
      echo "def key: .data.$key;"
      if [ "$reducer" = count ]; then echo "$count_reducer"; else echo "$orders_reducer"; fi
    } >"$file"
    best=""
    for run in 1 2; do
      t0=$(date +%s.%N)
      lines=$(timeout 600 "$ES" replay "$file" | wc -l)
      secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf("%.3f", b - a) }')
      rate=$(awk -v n="$EVENTS" -v s="$secs" 'BEGIN { printf("%d", n / s) }')
      echo "$reducer $key run $run: $lines partitions, $secs s, $rate ev/s" >&2
      if [ -z "$best" ] || [ "$rate" -gt "$best" ]; then best=$rate; fi
    done
    echo "reducer=$reducer partitions=$lines events=$EVENTS best_ev_per_s=$best"
  done
done

# A hosted projection (HOSTED=0 skips it): from es project add to lag 0,
# the orders reducer keyed on k10k, once.
if [ "${HOSTED:-1}" = 1 ]; then
  file=$TMP/orders-k10k.jq
  t0=$(date +%s.%N)
  "$ES" project add hosted "$file" >/dev/null
  for _ in $(seq 1 6000); do
    st=$("$ES" project status hosted)
    [ "$(echo "$st" | jq '.position == .head and .head > 0')" = true ] && break
    [ "$(echo "$st" | jq -r .status)" = running ] || { echo "hosted: $st" >&2; exit 1; }
    sleep 0.1
  done
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf("%.3f", b - a) }')
  echo "hosted reducer=orders key=k10k events=$EVENTS to_lag_0_s=$secs ev_per_s=$(awk -v n="$EVENTS" -v s="$secs" 'BEGIN { printf("%d", n / s) }')"
fi
