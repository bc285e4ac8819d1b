#!/usr/bin/env bash
# Broadcast benchmarks (issue 15), everything on 127.0.0.1, driven by `wsgate bench --mode broadcast --json`:
#
#   1. one node: fan-out deliveries per second of wsgate's /broadcast against a gorilla/websocket hub
#      (Benchmarks/peers/gorilla-broadcast) and Python `websockets`' broadcast() (peers/python_websockets_broadcast.py),
#      the servers alternating within each round;
#   2. three wsgate nodes sharing broadcasts through PostgreSQL 15 (its own data directory, pg_ctl, as the postgres
#      user): published 64-byte messages per second delivered to every node, lost, latency p50/p99/p99.9;
#   3. the PostgreSQL limit measured the same way: pgbench running the backplane's own write
#      (`SELECT wsgate_backplane_publish_batch(...)`, one batch row of PGBENCH_BATCH encoded 64-byte messages) and
#      its NOTIFY.
#
#     bash Benchmarks/broadcast/run.sh
#
# Knobs: BCAST_PARTS="fanout cluster pgbench" BCAST_ROUNDS=3 BCAST_DURATION=5 BCAST_SUBSCRIBERS=200 BCAST_PUBLISHERS=4 BCAST_RATES="500 1000 2000 4000 8000"
#        CLUSTER_RATE=20000 CLUSTER_SUBSCRIBERS=6 CLUSTER_PUBLISHERS=6 PGBENCH_BATCH=100 BENCH_SKIP_BUILD=0
# Output: reports/bench-broadcast/<timestamp>/ (raw JSON per run, logs, table.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DEPS="$ROOT/.deps"
ROUNDS="${BCAST_ROUNDS:-3}"
DURATION="${BCAST_DURATION:-5}"
SUBSCRIBERS="${BCAST_SUBSCRIBERS:-200}"
PUBLISHERS="${BCAST_PUBLISHERS:-4}"
RATES="${BCAST_RATES:-500 1000 2000 4000 8000}"
CLUSTER_RATE="${CLUSTER_RATE:-20000}"
CLUSTER_SUBSCRIBERS="${CLUSTER_SUBSCRIBERS:-6}"
CLUSTER_PUBLISHERS="${CLUSTER_PUBLISHERS:-6}"
PGBENCH_BATCH="${PGBENCH_BATCH:-100}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
PARTS="${BCAST_PARTS:-fanout cluster pgbench}"
OUT="$ROOT/reports/bench-broadcast/$(date -u +%Y%m%dT%H%M%SZ)"
HOST=127.0.0.1
PG_BIN=/usr/lib/postgresql/15/bin
mkdir -p "$OUT"

log() { printf '[bcast %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (apt-get, runuser postgres)"

# --- install and build ---------------------------------------------------------------------------
bash "$ROOT/scripts/apt-ensure.sh" golang-go golang-github-gorilla-websocket-dev postgresql-15
if [[ ! -x "$DEPS/bench-py/bin/python" ]]; then
    python3 -m venv "$DEPS/bench-py"
    "$DEPS/bench-py/bin/pip" install -q websockets==17.4
fi
mkdir -p "$DEPS/bin" "$DEPS/gopath"
(cd "$ROOT/Benchmarks/peers/gorilla-broadcast" &&
    GO111MODULE=off GOPATH="$DEPS/gopath:/usr/share/gocode" GOCACHE="$DEPS/gocache" GOFLAGS= \
        go build -o "$DEPS/bin/gorilla-broadcast" .) \
    >"$OUT/build-gorilla.log" 2>&1 || { cat "$OUT/build-gorilla.log" >&2; die "building the gorilla hub failed"; }
if [[ "$SKIP_BUILD" != 1 ]]; then
    swift build -c release --product wsgate >"$OUT/build-wsgate.log" 2>&1 || { tail -30 "$OUT/build-wsgate.log"; die "swift build failed"; }
fi
WSGATE="${WSGATE:-$(swift build -c release --show-bin-path)/wsgate}"
ulimit -n 100000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null && return 0; sleep 0.05; done; die "port $1 never opened"; }
bench() { "$WSGATE" bench --mode broadcast --json --duration "$DURATION" --warmup 1 "$@"; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [[ -n "${PGDATA:-}" ]] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1. one node: fan-out ----------------------------------------------------------------------------
start_server() { # name port → pid
    case "$1" in
        wsgate) "$WSGATE" serve --host $HOST --port "$2" --no-console --ping-interval 0 >"$OUT/$1.log" 2>&1 & ;;
        gorilla) "$DEPS/bin/gorilla-broadcast" -addr "$HOST:$2" >"$OUT/$1.log" 2>&1 & ;;
        python-websockets) "$DEPS/bench-py/bin/python" "$ROOT/Benchmarks/peers/python_websockets_broadcast.py" "$2" $HOST >"$OUT/$1.log" 2>&1 & ;;
    esac
    echo $!
}
# A ladder of offered rates per server: a hub that cannot keep up drops subscribers (gorilla's example does, and
# websockets' broadcast() skips them), so what compares is the most deliveries per second with nothing lost.
SERVERS=(wsgate gorilla python-websockets)
[[ " $PARTS " == *" fanout "* ]] || ROUNDS_FANOUT=0
for round in $(seq "${ROUNDS_FANOUT:-$ROUNDS}"); do
    for i in "${!SERVERS[@]}"; do
        name="${SERVERS[$(((i + round) % ${#SERVERS[@]}))]}"
        for rate in $RATES; do
            port="$(free_port)"
            pid="$(start_server "$name" "$port")"
            PIDS+=("$pid")
            wait_port "$port"
            log "round $round: $name at $rate msg/s"
            bench --url "ws://$HOST:$port/broadcast/bench" --connections "$SUBSCRIBERS" --publishers "$PUBLISHERS" \
                --rate "$rate" >"$OUT/fanout--$name--$rate--r$round.json" 2>"$OUT/fanout--$name--$rate--r$round.log" ||
                log "$name run failed"
            kill "$pid"; wait "$pid" 2>/dev/null || true
        done
    done
done

# --- 2. three nodes through PostgreSQL --------------------------------------------------------------
PGROOT="$(mktemp -d /tmp/wsgate-bench-pg.XXXXXX)"; chown postgres "$PGROOT"
PGDATA="$PGROOT/data"; PGPORT="$(free_port)"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust --no-sync >"$OUT/initdb.log" 2>&1
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGROOT/postgres.log" -w \
    -o "-p $PGPORT -k $PGROOT -c listen_addresses=$HOST -c max_connections=200 -c log_autovacuum_min_duration=0 -c log_min_duration_statement=50" start >/dev/null
trap 'cleanup; cp "$PGROOT/postgres.log" "$OUT/" 2>/dev/null || true' EXIT
runuser -u postgres -- "$PG_BIN/psql" -h "$PGROOT" -p "$PGPORT" -U postgres -qc "CREATE DATABASE wsgate" >/dev/null
URL="postgres://postgres@$HOST:$PGPORT/wsgate"
NODE_URLS=()
for n in 1 2 3; do
    port="$(free_port)"
    "$WSGATE" serve --host $HOST --port "$port" --no-console --ping-interval 0 --backplane "$URL" --node-id "bench-$n" \
        >"$OUT/node$n.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
    NODE_URLS+=(--url "ws://$HOST:$port/broadcast/cluster")
done
sleep 2
log "three nodes through PostgreSQL: $CLUSTER_RATE msg/s"
[[ " $PARTS " == *" cluster "* ]] || ROUNDS_CLUSTER=0
for round in $(seq "${ROUNDS_CLUSTER:-$ROUNDS}"); do
    bench "${NODE_URLS[@]}" --connections "$CLUSTER_SUBSCRIBERS" --publishers "$CLUSTER_PUBLISHERS" --rate "$CLUSTER_RATE" \
        >"$OUT/cluster--r$round.json" 2>"$OUT/cluster--r$round.log" || log "cluster run failed"
done

# --- 3. the PostgreSQL limit: the backplane's own write under pgbench -----------------------------------
cat >"$OUT/publish.sql" <<SQL
SET synchronous_commit = off;
SELECT wsgate_backplane_publish_batch('pgbench', 1, 1, $PGBENCH_BATCH, decode(repeat('010000000a2f62726f61646361737400000007636c757374657200000040' || repeat('78', 64), $PGBENCH_BATCH), 'hex'));
SQL
[[ " $PARTS " == *" pgbench "* ]] || ROUNDS_PGBENCH=0
for round in $(seq "${ROUNDS_PGBENCH:-$ROUNDS}"); do
    runuser -u postgres -- "$PG_BIN/pgbench" -h "$PGROOT" -p "$PGPORT" -U postgres -n -c 3 -j 3 -T "$DURATION" \
        -f "$OUT/publish.sql" wsgate >"$OUT/pgbench--r$round.log" 2>&1 || log "pgbench failed"
done

# --- table -------------------------------------------------------------------------------------------
"$DEPS/bench-py/bin/python" - "$OUT" "$PGBENCH_BATCH" <<'PY' | tee "$OUT/table.md"
import json, re, statistics, sys
from pathlib import Path
out, batch = Path(sys.argv[1]), int(sys.argv[2])
def runs(prefix):
    return [json.loads(p.read_text()) for p in sorted(out.glob(prefix + "*.json")) if p.stat().st_size]
print("| one node, fan-out | most deliveries/s with nothing lost (median over rounds) | at offered msg/s | p99 ms there | runs with losses | wsgate ÷ peer |")
print("|---|---|---|---|---|---|")
best = {}
for name in ["wsgate", "gorilla", "python-websockets"]:
    per_round = {}
    lossy = 0
    for p in sorted(out.glob(f"fanout--{name}--*.json")):
        if not p.stat().st_size: continue
        r = json.loads(p.read_text()); rnd = p.stem.rsplit("--", 1)[1]; rate = int(p.stem.split("--")[2])
        if r["lost"] or r["errors"] or r["subscribers_established"] < r["subscribers"]:
            lossy += 1; continue
        if r["deliveries_per_second"] > per_round.get(rnd, (0, 0, 0))[0]:
            per_round[rnd] = (r["deliveries_per_second"], rate, r["latency_p99_us"] / 1000)
    if not per_round: print(f"| {name} | none without losses | | | {lossy} | |"); best[name] = 0; continue
    values = sorted(per_round.values())
    mid = values[len(values) // 2]
    best[name] = statistics.median(v[0] for v in values)
    ratio = "" if name == "wsgate" or not best.get(name) else f"×{best['wsgate'] / best[name]:.2f}"
    print(f"| {name} | {best[name]:,.0f} | {mid[1]} | {mid[2]:.1f} | {lossy} | {ratio} |")
rs = runs("cluster--")
if rs:
    print("\n| three nodes via PostgreSQL | published/s | deliveries/s | lost | p50 ms | p99 ms | p99.9 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rs:
        print(f"| run | {r['published'] / r['duration_s']:,.0f} | {r['deliveries_per_second']:,.0f} | {r['lost']} | "
              f"{r['latency_p50_us'] / 1000:.1f} | {r['latency_p99_us'] / 1000:.1f} | {r['latency_p999_us'] / 1000:.1f} |")
tps = []
for p in sorted(out.glob("pgbench--*.log")):
    m = re.search(r"tps = ([0-9.]+)", p.read_text())
    if m: tps.append(float(m.group(1)))
if tps:
    print(f"\npgbench, the backplane's write with {batch} messages per call, 3 clients: "
          f"median {statistics.median(tps):,.0f} calls/s = {statistics.median(tps) * batch:,.0f} messages/s")
PY
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
log "results in $OUT"
