#!/usr/bin/env bash
# Fairness under a flood: how long a new connection's handshake waits while 100 connections flood the server,
# wsgate beside peers, in the same run. One command (after Benchmarks/run.sh has installed its peers once, or
# with Go and the bench venv present):
#
#     bash Benchmarks/fairness/run.sh
#
# For each round, scenario and server: the server starts alone on core 0, `wsgate bench --mode flood` drives it
# from core 1 (100 connections; `plain`: 64-byte messages; `deflate`: the chat corpus with permessage-deflate),
# and 3 s into the flood Benchmarks/fairness/probe.py times handshakes one after another for 6 s from core 1.
# Prints per scenario and server the medians over rounds of the handshake p50 / p99 (ms) and of the flood's
# messages per second, and how many times shorter wsgate's p50 is than each peer's.
#   BENCH_ROUNDS=3  WSGATE=.build/release/wsgate  WSGATE_BASE=<another wsgate binary, shown as wsgate-base>
#   FAIR_PY=<python with websockets>  FAIR_SERVERS="wsgate gorilla python-websockets"  FAIR_PORT_BASE=29600  FAIR_OUT=reports/fairness/<ts>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/Benchmarks/fairness"
DEPS="$ROOT/.deps"
ROUNDS="${BENCH_ROUNDS:-3}"
WSGATE="${WSGATE:-$ROOT/.build/release/wsgate}"
WSGATE_BASE="${WSGATE_BASE:-}"
SERVERS="${FAIR_SERVERS:-wsgate${WSGATE_BASE:+ wsgate-base} gorilla python-websockets}"
PORT_BASE="${FAIR_PORT_BASE:-29600}"
OUT="${FAIR_OUT:-$ROOT/reports/fairness/$(date -u +%Y%m%dT%H%M%SZ)}"
PY="${FAIR_PY:-$DEPS/bench-py/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
GORILLA_BIN="$DEPS/bin/gorilla-echo"
SCENARIOS="plain deflate"
mkdir -p "$OUT"
log() { echo "fairness: $*" >&2; }
die() { log "$*"; exit 1; }
[[ -x "$WSGATE" ]] || die "no $WSGATE (swift build -c release --product wsgate)"

# Server on core 0, load and probe on core 1, when there are two cores to split.
if (($(nproc) >= 2)); then SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1); else SERVER_CPU=() LOAD_CPU=(); fi

if [[ " $SERVERS " == *" gorilla "* && ! -x "$GORILLA_BIN" ]]; then
    command -v go >/dev/null || die "gorilla needs Go (bash Benchmarks/run.sh installs it), or drop it from FAIR_SERVERS"
    bash "$ROOT/Benchmarks/peers/gorilla-echo/build.sh" "$GORILLA_BIN" "$DEPS" || die "building the gorilla peer failed"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME SCENARIO PORT: the server in the background; its pid in SERVER_PID.
start() {
    local name=$1 scenario=$2 port=$3 deflate=()
    case "$name:$scenario" in
        gorilla:deflate) deflate=(-compression) ;;
        python-websockets:deflate) deflate=(--deflate) ;;
    esac
    case "$name" in
        wsgate) "${SERVER_CPU[@]}" "$WSGATE" serve --host 127.0.0.1 --port "$port" --log-level warning & ;;
        wsgate-base) "${SERVER_CPU[@]}" "$WSGATE_BASE" serve --host 127.0.0.1 --port "$port" --log-level warning & ;;
        gorilla) "${SERVER_CPU[@]}" "$GORILLA_BIN" -addr "127.0.0.1:$port" "${deflate[@]}" & ;;
        python-websockets) "${SERVER_CPU[@]}" "$PY" "$ROOT/Benchmarks/peers/python_websockets_echo.py" "$port" 127.0.0.1 "${deflate[@]}" & ;;
        *) die "unknown server $name" ;;
    esac
    SERVER_PID=$!
    local deadline=$((SECONDS + 30))
    until port_open "$port"; do
        ((SECONDS < deadline)) || die "$name did not listen on $port"
        sleep 0.1
    done
}

flood_args() {
    case "$1" in
        plain) echo "--mode flood --size 64" ;;
        deflate) echo "--mode flood --payload chat --compression" ;;
    esac
}

port=$PORT_BASE
for round in $(seq 1 "$ROUNDS"); do
    for scenario in $SCENARIOS; do
        # Each round starts one server further along the list, so none is always first.
        read -r -a order <<<"$SERVERS"
        shift_by=$(((round - 1) % ${#order[@]}))
        order=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
        for name in "${order[@]}"; do
            port=$((port + 1))
            base="$OUT/$scenario--$name--r$round"
            start "$name" "$scenario" "$port" 2>"$base.server.log"
            # shellcheck disable=SC2046
            "${LOAD_CPU[@]}" "$WSGATE" bench --url "ws://127.0.0.1:$port/echo" $(flood_args "$scenario") \
                --connections 100 --duration 12 --warmup 1 --threads 1 --json >"$base.flood.json" 2>"$base.flood.log" &
            flood=$!
            sleep 4
            "${LOAD_CPU[@]}" "$PY" "$HERE/probe.py" "$port" 6 >"$base.probe.json"
            wait "$flood" || log "$scenario $name round $round: the flood failed (see $base.flood.log)"
            kill "$SERVER_PID" 2>/dev/null || true
            wait "$SERVER_PID" 2>/dev/null || true
            log "$scenario $name r$round: $(cat "$base.probe.json")"
        done
    done
done

"$PY" - "$OUT" "$SERVERS" "$SCENARIOS" <<'EOF' | tee "$OUT/table.md"
import glob, json, os, statistics, sys
out, servers, scenarios = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def runs(scenario, name, suffix):
    for path in sorted(glob.glob(os.path.join(out, f"{scenario}--{name}--r*.{suffix}.json"))):
        try:
            yield json.load(open(path))
        except (OSError, ValueError):
            yield {}

print("| flood | server | handshakes in 6 s | p50 ms | p99 ms | flood msg/s | wsgate's p50 × shorter |")
print("|---|---|---|---|---|---|---|")
for scenario in scenarios:
    rows = {}
    for name in servers:
        probes = list(runs(scenario, name, "probe"))
        floods = list(runs(scenario, name, "flood"))
        rows[name] = (median([p.get("handshakes") for p in probes]), median([p.get("p50_ms") for p in probes]),
                      median([p.get("p99_ms") for p in probes]), median([f.get("messages_per_second") for f in floods]))
    ours = rows.get("wsgate", (None, None, None, None))[1]
    for name, (count, p50, p99, rate) in rows.items():
        ratio = f"×{p50 / ours:.2f}" if ours and p50 and name != "wsgate" else ""
        fmt = lambda v, spec: format(v, spec) if v is not None else "—"
        print(f"| {scenario} | {name} | {fmt(count, '.0f')} | {fmt(p50, '.1f')} | {fmt(p99, '.1f')} | {fmt(rate, ',.0f')} | {ratio} |")
EOF
