#!/usr/bin/env bash
# Cross-checks the project's load generator against an independent one: the wsgate ÷ NIOWebSocket ratio for 64 B
# echo, measured by tcpkali (C, libev; satori-com/tcpkali) and by `wsgate bench --mode flood`, side by side in one
# run. If the two ratios agree (issue 17: within 20 %), neither generator is what limits the figure.
#
#     TCPKALI=/path/to/tcpkali bash Benchmarks/tcpkali/crosscheck.sh [ROUNDS=3] [DURATION_S=5]
#
# tcpkali is not installed by this project and nothing built from it is committed: build it from its public
# source in a temporary folder (autoreconf -i && ./configure && make; on glibc without sys/sysctl.h, guard that
# #include with #ifdef HAVE_SYSCTLBYNAME). Both generators flood: 100 connections write 64 B text frames as fast
# as the socket takes them and count what comes back — tcpkali counts bytes, so its msg/s is
# bytes received ÷ 66 (a 2-byte header + 64 B per echoed frame; the 101 responses, ~0.1 KB per connection, are
# left in: under 0.01 % of the total) ÷ duration.
#
# Each round runs, for each server in turn (alternating which goes first), tcpkali then the flood mode, each
# against a fresh server process. Prints per-round figures, the median ratio by each generator, and their
# agreement; exits 0 (the figures are for BENCHMARKS.md), or 2 if a run failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS="${1:-3}" DURATION="${2:-5}"
TCPKALI="${TCPKALI:?set TCPKALI to a tcpkali binary built from its public source (see the header of this script)}"
WSGATE="${WSGATE:-$ROOT/.build/release/wsgate}"
NIO_BIN="${NIO_BIN:-$ROOT/.deps/build-nio-echo/release/NIOWebSocketEcho}"
PORT="${CROSSCHECK_PORT:-29700}"
HOST=127.0.0.1
CONNECTIONS=100
[[ -x "$TCPKALI" ]] || { echo "no tcpkali at $TCPKALI" >&2; exit 2; }
[[ -x "$WSGATE" ]] || { echo "no $WSGATE (swift build -c release --product wsgate)" >&2; exit 2; }
[[ -x "$NIO_BIN" ]] || {
    echo "no $NIO_BIN (swift build -c release --package-path Benchmarks/peers/nio-websocket-echo --scratch-path .deps/build-nio-echo)" >&2
    exit 2
}
TMP="$(mktemp -d)"
SP=""
trap '[[ -n "$SP" ]] && kill "$SP" 2>/dev/null; rm -rf "$TMP"' EXIT

start() { # server
    case "$1" in
        wsgate) "$WSGATE" serve --host "$HOST" --port "$PORT" --log-level warning --no-console >"$TMP/server.log" 2>&1 & ;;
        nio) "$NIO_BIN" "$PORT" "$HOST" >"$TMP/server.log" 2>&1 & ;;
    esac
    SP=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null && return 0; sleep 0.1; done
    echo "$1 did not listen on $PORT" >&2; exit 2
}
stop() { kill "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; SP=""; }

tcpkali_rate() {
    local out received seconds
    out=$("$TCPKALI" --websocket --connections "$CONNECTIONS" --connect-rate 10k --duration "${DURATION}s" \
        --message "$(printf 'x%.0s' $(seq 64))" "$HOST:$PORT/echo" 2>&1) || { echo "$out" >&2; return 1; }
    received=$(sed -n 's/^Total data received:.*(\([0-9]*\) bytes).*/\1/p' <<<"$out")
    seconds=$(sed -n 's/^Test duration: \([0-9.]*\) s\./\1/p' <<<"$out")
    [[ -n "$received" && -n "$seconds" ]] || { echo "cannot read tcpkali's output:" >&2; echo "$out" >&2; return 1; }
    awk -v b="$received" -v s="$seconds" 'BEGIN { printf "%.0f", b / 66 / s }'
}

flood_rate() {
    "$WSGATE" bench --url "ws://$HOST:$PORT/echo" --mode flood --size 64 --connections "$CONNECTIONS" \
        --duration "$DURATION" --warmup 1 --json 2>"$TMP/bench.log" |
        python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["errors"] == 0, r; print(round(r["messages_per_second"]), r["generator_cpu_cores"])'
}

declare -A RATE
printf '| round | server | tcpkali msg/s | flood msg/s | flood generator cores |\n|---|---|---|---|---|\n'
for round in $(seq 1 "$ROUNDS"); do
    servers="wsgate nio"; ((round % 2 == 0)) && servers="nio wsgate"
    for server in $servers; do
        start "$server"; t=$(tcpkali_rate) || exit 2; stop
        start "$server"; read -r f cores < <(flood_rate) || exit 2; stop
        RATE[$server,$round,tcpkali]=$t RATE[$server,$round,flood]=$f
        printf '| %d | %s | %s | %s | %.2f |\n' "$round" "$server" "$t" "$f" "$cores"
    done
done

python3 - "$ROUNDS" "$(for k in "${!RATE[@]}"; do printf '%s=%s ' "$k" "${RATE[$k]}"; done)" <<'PYEOF'
import statistics, sys
rounds, pairs = int(sys.argv[1]), dict(kv.split("=") for kv in sys.argv[2].split())
rate = lambda server, r, gen: float(pairs[f"{server},{r},{gen}"])
ratios = {gen: [rate("wsgate", r, gen) / rate("nio", r, gen) for r in range(1, rounds + 1)] for gen in ("tcpkali", "flood")}
med = {gen: statistics.median(v) for gen, v in ratios.items()}
print()
for gen in ("tcpkali", "flood"):
    print(f"wsgate ÷ NIO by {gen}: ×{med[gen]:.2f} (rounds: {', '.join(f'×{x:.2f}' for x in ratios[gen])})")
agreement = abs(med["flood"] - med["tcpkali"]) / med["tcpkali"]
print(f"agreement: the flood mode's ratio is {100 * agreement:.1f} % from tcpkali's (target: within 20 %)")
PYEOF
