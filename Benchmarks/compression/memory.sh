#!/usr/bin/env bash
# Memory per connection with permessage-deflate at rest (issue 17): N connections to `wsgate serve`'s /echo, each
# sends chat-like JSON messages (one at a time, each after the echo of the one before), then all are held; the
# server's VmRSS is sampled while they are held, after the rest period has passed.
#
#     bash Benchmarks/compression/memory.sh [N=10000] [HOLD_SECONDS=22]
#
# Cases: no compression, compression after 1 message each, after 100 each (windows full), and compression without
# resting (rest_after: 0, client window 15: the gateway before resting). KiB/conn = (held RSS − RSS after one
# warm-up connection) / N. Needs 2N file descriptors (server + generator on this machine).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WSGATE="${WSGATE:-$ROOT/.build/release/wsgate}"
N="${1:-10000}" HOLD="${2:-22}"
PORT="${MEMORY_PORT:-29510}"
TMP="$(mktemp -d)"
trap 'kill "${SP:-}" 2>/dev/null || true; rm -rf "$TMP"' EXIT
ulimit -n "$(ulimit -Hn)"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

cat >"$TMP/no-rest.yaml" <<YAML
listeners:
  - {host: 127.0.0.1, port: $PORT}
services:
  - path: /echo
    type: echo
    compression: {rest_after: 0, client_max_window_bits: 15}
YAML

measure() { # name serve-args bench-args messages
    local name=$1 serve=$2 bench=$3 messages=$4
    # shellcheck disable=SC2086
    "$WSGATE" serve --log-level warning --no-console $serve >"$TMP/serve.log" 2>&1 &
    SP=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    "$WSGATE" bench --url "ws://127.0.0.1:$PORT/echo" --mode idle --connections 1 --duration 0.3 --warmup 0 >/dev/null 2>&1
    sleep 1
    local before; before=$(rss "$SP")
    # The hold must outlast the messages and two rest periods (5 s each by default).
    local hold=$((HOLD + messages * N / 4000))
    # shellcheck disable=SC2086
    "$WSGATE" bench --url "ws://127.0.0.1:$PORT/echo" --mode idle --connections "$N" --duration "$hold" --warmup 0 \
        --source-addresses 127.0.0.1,127.0.0.2 --payload chat --idle-messages "$messages" $bench --json >"$TMP/bench.json" 2>"$TMP/bench.log" &
    local bp=$! peak=0 held=0 start=$SECONDS
    while kill -0 "$bp" 2>/dev/null; do
        local r; r=$(rss "$SP"); ((r > peak)) && peak=$r
        # The last sample more than 3 s before the end of the hold: all connections open and quiet.
        ((SECONDS - start < hold - 3)) && held=$r
        sleep 0.5
    done
    wait "$bp" || true
    local est; est=$(grep -o '"connections_established":[0-9]*' "$TMP/bench.json" | cut -d: -f2)
    kill "$SP"; wait "$SP" 2>/dev/null || true; SP=""
    awk -v n="$name" -v b="$before" -v p="$peak" -v h="$held" -v c="$N" -v e="$est" 'BEGIN {
        printf "| %s | %d | %.1f | %.1f | %d MiB |\n", n, e, (h - b) / c, (p - b) / c, p / 1024 }'
}

echo "| case ($N connections, chat JSON) | held | KiB/conn at rest | KiB/conn at peak | peak RSS |"
echo "|---|---|---|---|---|"
measure "no compression, 1 message each" "--host 127.0.0.1 --port $PORT" "" 1
measure "permessage-deflate, 1 message each" "--host 127.0.0.1 --port $PORT" "--compression" 1
measure "permessage-deflate, 100 messages each" "--host 127.0.0.1 --port $PORT" "--compression" 100
measure "permessage-deflate without resting, 1 message each" "--config $TMP/no-rest.yaml" "--compression" 1
