#!/usr/bin/env bash
# tests/bench/vs_peers.sh [--quick]: the peers' benchmark (../shared/bench/peers
# run.sh), then esbench, back to back on this machine, and one table of both
# with esd's ratios to each peer and to its ceilings of the same run.
#   PASSES (default 1) and PEER_CONFIGS (default "redis-always pg-sync") go
#   to run.sh; PB_* to both; PEERS_DIR, BUILD_DIR and OUT_DIR say where.
# Writes OUT_DIR/peers.txt, esbench.txt (and their .err) and table.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
peers=${PEERS_DIR:-$root/../shared/bench/peers}
build=${BUILD_DIR:-$root/build}
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
out=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/vs-peers-XXXXXX")}
mkdir -p "$out"
export PASSES=${PASSES:-1} PEER_CONFIGS=${PEER_CONFIGS:-"redis-always pg-sync"}
[ -x "$peers/bin/peerbench" ] || { echo "vs_peers: run $peers/setup.sh first" >&2; exit 2; }
echo "== peers ($PEER_CONFIGS, passes $PASSES) -> $out/peers.txt" >&2
(cd "$peers" && ./run.sh "${quick[@]}") >"$out/peers.txt" 2>"$out/peers.err"
echo "== esbench -> $out/esbench.txt" >&2
"$build/tests/bench/esbench" --esd "$build/daemon/esd" "${quick[@]}" \
  >"$out/esbench.txt" 2>"$out/esbench.err" || echo "esbench failed: see $out/esbench.err" >&2
python3 - "$out" <<'EOF' | tee "$out/table.md"
import sys, re
out = sys.argv[1]
peers = {}
text = open(out + "/peers.txt").read()
m = re.search(r"```tsv\n(.*?)```", text, re.S)
rows = [l.split("\t") for l in m.group(1).strip().splitlines()] if m else []
head = rows[0] if rows else []
for r in rows[1:]:
    peers[r[0]] = dict(zip(head, r))
esd = {}
for line in open(out + "/esbench.txt"):
    f = line.rstrip("\n").split("\t")
    if len(f) == 4 and f[0] == "R":
        esd[f[2]] = f[3]
cols = [("W1 ev/s", "W1_evps"), ("W1 p50 us", "W1_p50_us"), ("W2 ev/s (16 cl)", "W2_evps"),
        ("W3 ev/s (batch 100)", "W3_evps"), ("W4 ev/s (expected ver.)", "W4_evps"),
        ("W5 ev/s (1 stream)", "W5_evps"), ("W6 ev/s (all, global order)", "W6_evps"),
        ("W7 p50 us", "W7_p50_us"), ("W7 p99 us", "W7_p99_us")]
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
print("| config | " + " | ".join(c for c, _ in cols) + " |")
print("|---|" + "---|" * len(cols))
for name, p in peers.items():
    print("| %s | %s |" % (name, " | ".join(p.get(c, "-") for c, _ in cols)))
print("| esd | %s |" % " | ".join(esd.get(k, "-") for _, k in cols))
for name, p in peers.items():
    cells = []
    for c, k in cols:
        a, b = num(esd.get(k)), num(p.get(c))
        lower_better = k.endswith("_us")
        cells.append("-" if not a or not b else "%.2fx" % ((b / a) if lower_better else (a / b)))
    print("| esd vs %s | %s |" % (name, " | ".join(cells)))
print()
c1, f, w1c = num(esd.get("ceiling_rt1_p50_us")), num(esd.get("ceiling_flush_p50_us")), num(esd.get("ceiling_W1_evps"))
r16 = num(esd.get("ceiling_rt16_per_s"))
print("Ceilings of the esbench run: round trip p50 %s us (1 client), %s/s (16 clients); "
      "journal-sized overwrite + fdatasync p50 %s us, %s/s; W1 ceiling %s ev/s." %
      (esd.get("ceiling_rt1_p50_us"), esd.get("ceiling_rt16_per_s"), esd.get("ceiling_flush_p50_us"),
       esd.get("ceiling_flush_per_s"), esd.get("ceiling_W1_evps")))
w1, w2 = num(esd.get("W1_evps")), num(esd.get("W2_evps"))
if w1 and w1c: print("W1 / W1 ceiling: %.2f" % (w1 / w1c))
if w2 and r16: print("W2 / 16-client round-trip ceiling: %.2f" % (w2 / r16))
d1, d16 = num(esd.get("ceiling_durable1_per_s")), num(esd.get("ceiling_durable16_per_s"))
if d1 and d16:
    print("A durable ROUTER with no event work (one 4 KiB O_DIRECT|O_DSYNC write per group): "
          "%s/s (1 client, p50 %s us), %s/s (16 clients)." %
          (esd.get("ceiling_durable1_per_s"), esd.get("ceiling_durable1_p50_us"),
           esd.get("ceiling_durable16_per_s")))
    if w1: print("W1 / durable ROUTER (1 client): %.2f" % (w1 / d1))
    if w2: print("W2 / durable ROUTER (16 clients): %.2f" % (w2 / d16))
EOF
echo "== $out/table.md" >&2
