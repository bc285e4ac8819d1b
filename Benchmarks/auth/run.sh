#!/usr/bin/env bash
# Handshakes per second with and without access control, side by side: `wsgate serve` (embedded default) and
# `wsgate serve --jwt-secret-file F`, driven by `wsgate bench --mode handshake` (connect + one echo + close
# loops; with `--token`, an HS256 token minted by `wsgate token`). Rounds alternate which server goes first;
# prints each round and the median ratio with/without. One command, from anywhere:
#
#     bash Benchmarks/auth/run.sh          # BENCH_ROUNDS=5 BENCH_DURATION=5 BENCH_CONNECTIONS=32 WSGATE=.build/release/wsgate
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${BENCH_ROUNDS:-5}"
DURATION="${BENCH_DURATION:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WSGATE="${WSGATE:-$ROOT/.build/release/wsgate}"
[[ -x "$WSGATE" ]] || swift build -c release --product wsgate >&2
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
head -c 48 /dev/urandom | base64 >"$work/secret"
TOKEN="$("$WSGATE" token --secret-file "$work/secret" --sub bench --ttl 3600)"
ulimit -n 65536 2>/dev/null || true

one() { # one run: $1 = plain|jwt; prints handshakes/s
    local port=$((29700 + RANDOM % 200)) extra=() tok=()
    [[ "$1" == jwt ]] && extra=(--jwt-secret-file "$work/secret") && tok=(--token "$TOKEN")
    "$WSGATE" serve --host 127.0.0.1 --port "$port" --log-level warning "${extra[@]}" >"$work/$1.log" 2>&1 &
    local pid=$!
    for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    "$WSGATE" bench --url "ws://127.0.0.1:$port/echo" --mode handshake --connections "$CONNECTIONS" --duration "$DURATION" \
        --warmup 1 --json "${tok[@]}" 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["errors"] == 0, d; print(round(d["handshakes_per_second"]))'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

ratios=()
printf '%-6s %12s %12s %8s\n' round "plain hs/s" "HS256 hs/s" ratio
for r in $(seq "$ROUNDS"); do
    if (( r % 2 )); then p=$(one plain); j=$(one jwt); else j=$(one jwt); p=$(one plain); fi
    ratio=$(python3 -c "print(f'{$j / $p:.3f}')")
    ratios+=("$ratio")
    printf '%-6s %12s %12s %8s\n' "$r" "$p" "$j" "×$ratio"
done
python3 -c "import statistics,sys; r=sorted(map(float, sys.argv[1:])); print(f'median ratio HS256/plain: ×{statistics.median(r):.3f} [{r[0]:.3f} – {r[-1]:.3f}] over {len(r)} rounds')" "${ratios[@]}"
