#!/usr/bin/env bash
# Relayed MSRP SEND throughput and latency, wsgate's relay vs Kamailio 5.6, driven by `wsgate bench --mode msrp`
# (Swift, NIO) in alternating rounds. Needs a release build and Kamailio (scripts/install-test-deps.sh).
#   bash Benchmarks/msrp/run.sh [ROUNDS] [PAIRS] [PIPELINE] [SIZE] [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROUNDS="${1:-3}" PAIRS="${2:-16}" PIPELINE="${3:-4}" SIZE="${4:-200}" SECONDS_="${5:-5}"
BIN=.build/release/wsgate
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
WS=$(port) MSRP=$(port) K1=$(port) K2=$(port)
OUT=reports/bench-msrp; mkdir -p "$OUT"
"$BIN" serve --host 127.0.0.1 --port "$WS" --msrp-port "$MSRP" --log-level warning >"$OUT/wsgate.log" 2>&1 & W=$!
setsid tests/interop/peers/msrp/run_kamailio.sh "$K1" "$K2" "$OUT/kamailio-run" >"$OUT/kamailio.log" 2>&1 & K=$!
trap 'kill $W 2>/dev/null; kill -- -$K 2>/dev/null || true' EXIT
sleep 3
bench() { # name url receiver
    "$BIN" bench --mode msrp --url "$2" --msrp-receiver "$3" --connections "$PAIRS" --pipeline "$PIPELINE" \
        --size "$SIZE" --duration "$SECONDS_" --warmup 1 --json 2>/dev/null >"$OUT/$1-$r.json"
    python3 -c "import json,sys; d=json.load(open('$OUT/$1-$r.json')); print(f\"round $r $1: {d['messages_per_second']:.0f} msg/s p50 {d['latency_p50_us']/1000:.1f} ms p99 {d['latency_p99_us']/1000:.1f} ms errors {d['errors']}\")"
}
for r in $(seq 1 "$ROUNDS"); do
    if (( r % 2 )); then
        bench wsgate "ws://127.0.0.1:$WS/msrp" "msrp://127.0.0.1:$MSRP;tcp"
        bench kamailio "ws://127.0.0.1:$K2/" "msrp://127.0.0.1:$K1;tcp"
    else
        bench kamailio "ws://127.0.0.1:$K2/" "msrp://127.0.0.1:$K1;tcp"
        bench wsgate "ws://127.0.0.1:$WS/msrp" "msrp://127.0.0.1:$MSRP;tcp"
    fi
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
med = {}
for name in ("wsgate", "kamailio"):
    rs = [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, rounds + 1)]
    med[name] = {k: statistics.median(x[k] for x in rs) for k in ("messages_per_second", "latency_p50_us", "latency_p99_us")}
    m = med[name]
    print(f"{name:8}: {m['messages_per_second']:.0f} msg/s, p50 {m['latency_p50_us']/1000:.1f} ms, p99 {m['latency_p99_us']/1000:.1f} ms (medians)")
print(f"throughput wsgate / kamailio: x{med['wsgate']['messages_per_second'] / med['kamailio']['messages_per_second']:.2f}; "
      f"p50 latency kamailio / wsgate: x{med['kamailio']['latency_p50_us'] / max(1, med['wsgate']['latency_p50_us']):.1f}")
PY
