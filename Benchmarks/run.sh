#!/usr/bin/env bash
# Side-by-side WebSocket echo benchmarks: wsgate against peer servers, all on 127.0.0.1, all driven by
# the project's own load generator (`wsgate bench --json`). One command:
#
#     bash Benchmarks/run.sh
#
# Installs and builds what it needs (idempotent), then for each round starts every server in turn on its
# own port, drives the same loads at it, stops it, and finally prints the median of the rounds per server
# and scenario (table + ratio wsgate/peer). Raw JSON, logs and table.md go to reports/bench/<timestamp>/.
# Needs root (apt-get, `ulimit -n 1000000`). Knobs (environment) are listed in Benchmarks/README.md:
#   BENCH_ROUNDS=3  BENCH_DURATION=5  BENCH_WARMUP=1  BENCH_SCENARIOS="echo-64B ... idle"
#   BENCH_SERVERS="wsgate nio hummingbird gorilla python-websockets picows" (+ optional nio-wordmask)
#   BENCH_IDLE_SERVERS="wsgate nio"
#   BENCH_IDLE_CONNECTIONS=50000  BENCH_IDLE_DURATION=5  BENCH_HANDSHAKE_CONNECTIONS=32  BENCH_SKIP_BUILD=0
#   BENCH_MEM_CONNECTIONS=10000  BENCH_MEM_HOLD=12
# Scenarios beyond plain ws:// run on the servers of BENCH_SERVERS that can: wss-* (TLS: wsgate, NIO behind NIOSSL,
# hummingbird with HummingbirdTLS, gorilla with Go's crypto/tls) and deflate-chat / deflate-flood / mem-10k-deflate
# (permessage-deflate: wsgate, hummingbird with HummingbirdWSCompression, gorilla, Python websockets).
#   BENCH_PORT_BASE=29100  BENCH_OUT=reports/bench/<ts>  BENCH_CHECK=1  WSGATE=.build/release/wsgate
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_DIR="$ROOT/Benchmarks"
DEPS="$ROOT/.deps"

ALL_SERVERS="wsgate nio hummingbird gorilla python-websockets picows nio-wordmask"
DEFAULT_SERVERS="wsgate nio hummingbird gorilla python-websockets picows"
ALL_SCENARIOS="echo-64B flood-64B echo-1KiB echo-64KiB echo-1MiB wss-64B wss-1KiB wss-64KiB deflate-chat deflate-flood handshake idle mem-10k mem-10k-deflate"
# Peers that speak TLS / permessage-deflate (each started with its own library's way of turning it on).
TLS_SERVERS="wsgate nio hummingbird gorilla"
DEFLATE_SERVERS="wsgate hummingbird gorilla python-websockets"
# Scenarios measured by the server's memory, not by messages: connections held while VmRSS is sampled.
MEMORY_SCENARIOS="idle mem-10k mem-10k-deflate"

ROUNDS="${BENCH_ROUNDS:-3}"
DURATION="${BENCH_DURATION:-5}"
WARMUP="${BENCH_WARMUP:-1}"
SCENARIOS="${BENCH_SCENARIOS:-$ALL_SCENARIOS}"
SERVERS="${BENCH_SERVERS:-$DEFAULT_SERVERS}"
IDLE_SERVERS="${BENCH_IDLE_SERVERS:-wsgate nio}"
IDLE_CONNECTIONS="${BENCH_IDLE_CONNECTIONS:-50000}"
IDLE_DURATION="${BENCH_IDLE_DURATION:-5}"
MEM_CONNECTIONS="${BENCH_MEM_CONNECTIONS:-10000}"
# Long enough for wsgate's compression to rest (5 s after a connection's last message) with margin.
MEM_HOLD="${BENCH_MEM_HOLD:-12}"
IDLE_SOURCES="${BENCH_IDLE_SOURCES:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4}"
HANDSHAKE_CONNECTIONS="${BENCH_HANDSHAKE_CONNECTIONS:-32}"
PORT_BASE="${BENCH_PORT_BASE:-29100}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
CHECK="${BENCH_CHECK:-1}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${BENCH_OUT:-$ROOT/reports/bench/$STAMP}"
HOST=127.0.0.1   # every server binds here and every load targets it; nothing else is ever addressed

PY="$DEPS/bench-py/bin/python"
NIO_SCRATCH="$DEPS/build-nio-echo"
HB_SCRATCH="$DEPS/build-hummingbird-echo"
GORILLA_BIN="$DEPS/bin/gorilla-echo"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- validate knobs -----------------------------------------------------------------------------
for s in $SERVERS; do [[ " $ALL_SERVERS " == *" $s "* ]] || die "unknown server '$s' (known: $ALL_SERVERS)"; done
for s in $IDLE_SERVERS; do [[ " $ALL_SERVERS " == *" $s "* ]] || die "unknown idle server '$s'"; done
for s in $SCENARIOS; do [[ " $ALL_SCENARIOS " == *" $s "* ]] || die "unknown scenario '$s' (known: $ALL_SCENARIOS)"; done
for n in "$ROUNDS" "$IDLE_CONNECTIONS" "$MEM_CONNECTIONS" "$HANDSHAKE_CONNECTIONS" "$PORT_BASE"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "not a whole number: '$n'"
done
for n in "$DURATION" "$WARMUP" "$IDLE_DURATION" "$MEM_HOLD"; do
    [[ "$n" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "not a number of seconds: '$n'"
done
IFS=, read -ra _srcs <<<"$IDLE_SOURCES"
for a in "${_srcs[@]}"; do
    [[ "$a" =~ ^127\.0\.0\.[0-9]{1,3}$ ]] || die "source address '$a' is not 127.0.0.x (loopback only)"
done
((PORT_BASE >= 1024 && PORT_BASE + 6 <= 65535)) || die "BENCH_PORT_BASE out of range"

[[ $EUID -eq 0 ]] || die "run as root (apt-get, ulimit -n 1000000)"

# --- which servers run which scenario ----------------------------------------------------------------
only_in() { # list allowed -> the words of list that are in allowed
    local w out=""
    for w in $1; do [[ " $2 " == *" $w "* ]] && out+="$w "; done
    echo "$out"
}
servers_for() { # scenario -> the servers it runs on
    case "$1" in
        idle) echo "$IDLE_SERVERS" ;;
        wss-*) only_in "$SERVERS" "$TLS_SERVERS" ;;
        deflate-* | *-deflate) only_in "$SERVERS" "$DEFLATE_SERVERS" ;;
        *) echo "$SERVERS" ;;
    esac
}
variant_of() { # scenario -> how its servers are started: plain, tls or deflate
    case "$1" in
        wss-*) echo tls ;;
        deflate-* | *-deflate) echo deflate ;;
        *) echo plain ;;
    esac
}
is_memory_scenario() { [[ " $MEMORY_SCENARIOS " == *" $1 "* ]]; }

# --- install and build (idempotent) -------------------------------------------------------------
want() { # server: does any chosen scenario run on it?
    local sc
    for sc in $SCENARIOS; do [[ " $(servers_for "$sc") " == *" $1 "* ]] && return 0; done
    return 1
}

install_and_build() {
    local t0 t
    # iproute2: ss (which process listens); Go and gorilla for the gorilla peer.
    local apt_pkgs=(iproute2)
    want gorilla && apt_pkgs+=(golang-go golang-github-gorilla-websocket-dev)
    bash "$ROOT/scripts/apt-ensure.sh" "${apt_pkgs[@]}"

    # Python venv: the two Python peers and the echo check client.
    if ! "$PY" -c 'import websockets, picows, uvloop
assert websockets.__version__ == "17.4" and picows.__version__ == "2.3.1"' >/dev/null 2>&1; then
        log "creating Python venv at $DEPS/bench-py"
        local pyenv_root py3
        pyenv_root="${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}"
        py3="$(ls -d "$pyenv_root"/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -1)"
        [[ -n "$py3" ]] || py3="$(command -v python3)"
        rm -rf "$DEPS/bench-py"
        "$py3" -m venv "$DEPS/bench-py"
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$DEPS/bench-py/bin/pip" install -q \
            websockets==17.4 picows==2.3.1 uvloop==0.23.0
    fi

    t0=$SECONDS
    log "swift build -c release --product wsgate"
    swift build -c release --product wsgate >"$OUT/build-wsgate.log" 2>&1 ||
        { tail -30 "$OUT/build-wsgate.log" >&2; die "building wsgate failed"; }
    log "  wsgate built in $((SECONDS - t0)) s"

    if want nio || want nio-wordmask; then
        t0=$SECONDS
        log "swift build -c release (Benchmarks/peers/nio-websocket-echo)"
        swift build -c release --package-path "$BENCH_DIR/peers/nio-websocket-echo" --scratch-path "$NIO_SCRATCH" \
            >"$OUT/build-nio.log" 2>&1 || { tail -30 "$OUT/build-nio.log" >&2; die "building the NIO peer failed"; }
        log "  nio peer built in $((SECONDS - t0)) s"
    fi
    if want hummingbird; then
        t0=$SECONDS
        log "swift build -c release (Benchmarks/peers/hummingbird-echo; first time takes minutes)"
        swift build -c release --package-path "$BENCH_DIR/peers/hummingbird-echo" --scratch-path "$HB_SCRATCH" \
            >"$OUT/build-hummingbird.log" 2>&1 ||
            { tail -30 "$OUT/build-hummingbird.log" >&2; die "building the hummingbird peer failed"; }
        log "  hummingbird peer built in $((SECONDS - t0)) s"
    fi
    if want gorilla; then
        t0=$SECONDS
        bash "$BENCH_DIR/peers/gorilla-echo/build.sh" "$GORILLA_BIN" "$DEPS" >"$OUT/build-gorilla.log" 2>&1 ||
            { cat "$OUT/build-gorilla.log" >&2; die "building the gorilla peer failed"; }
        log "  gorilla peer built in $((SECONDS - t0)) s"
    fi
}

mkdir -p "$OUT"
if [[ "$SKIP_BUILD" != 1 ]]; then install_and_build; fi

WSGATE="${WSGATE:-$ROOT/.build/release/wsgate}"
[[ -x "$WSGATE" ]] || die "no $WSGATE (build it: swift build -c release --product wsgate)"
"$WSGATE" bench --help >/dev/null 2>&1 || die "$WSGATE has no 'bench' subcommand"
NIO_BIN="$NIO_SCRATCH/release/NIOWebSocketEcho"
HB_BIN="$HB_SCRATCH/release/HummingbirdEcho"

# --- limits ---------------------------------------------------------------------------------------
# Raising the hard limit needs CAP_SYS_RESOURCE; a sandbox without it (seen: root, hard limit 20000)
# gets its hard limit, and the idle scenario is clamped to fit (server and generator each hold one fd
# per connection).
ulimit -n 1000000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || die "cannot set the fd limit"
FD_LIMIT=$(ulimit -n)
IDLE_REQUESTED=$IDLE_CONNECTIONS
if [[ "$FD_LIMIT" != unlimited ]] && ((IDLE_CONNECTIONS > FD_LIMIT - 1000)); then
    IDLE_CONNECTIONS=$((FD_LIMIT - 1000))
    log "fd limit is $FD_LIMIT and cannot be raised (no CAP_SYS_RESOURCE?): idle clamped to $IDLE_CONNECTIONS connections"
fi
log "fd limit $FD_LIMIT; output in $OUT"

# --- servers ----------------------------------------------------------------------------------------
port_of() {
    local i=0 s
    for s in $ALL_SERVERS; do
        [[ "$s" == "$1" ]] && { echo $((PORT_BASE + i)); return; }
        i=$((i + 1))
    done
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# A self-signed certificate for 127.0.0.1 made by openssl (the wss scenarios' generator trusts it with --ca-file).
CERT="$OUT/tls/cert.pem" KEY="$OUT/tls/key.pem"
make_certificate() {
    [[ -s "$CERT" ]] && return 0
    mkdir -p "$OUT/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$KEY" -out "$CERT" >"$OUT/tls/openssl.log" 2>&1 ||
        die "openssl could not make a certificate (see $OUT/tls/openssl.log)"
}

SERVER_PID="" LAUNCH_PID=""
start_server() { # name port logfile [variant: plain | tls | deflate]
    local name=$1 port=$2 logfile=$3 variant=${4:-plain}
    port_open "$port" && { log "port $port is already in use: not starting $name"; return 1; }
    local extra=()
    case "$variant:$name" in
        tls:wsgate) extra=(--tls-cert "$CERT" --tls-key "$KEY") ;;
        tls:nio | tls:hummingbird) extra=("--tls-cert=$CERT" "--tls-key=$KEY") ;;
        tls:gorilla) extra=(-tls-cert "$CERT" -tls-key "$KEY") ;;
        deflate:wsgate) extra=() ;;  # `wsgate serve` accepts permessage-deflate by default, as a user gets it
        deflate:hummingbird) extra=(--compression) ;;
        deflate:gorilla) extra=(-compression) ;;
        deflate:python-websockets) extra=(--deflate) ;;
        plain:*) extra=() ;;
        *) log "$name cannot run a $variant scenario"; return 1 ;;
    esac
    case "$name" in
        wsgate) "$WSGATE" serve --host "$HOST" --port "$port" --log-level warning "${extra[@]}" >"$logfile" 2>&1 & ;;
        nio) "$NIO_BIN" "$port" "$HOST" "${extra[@]}" >"$logfile" 2>&1 & ;;
        nio-wordmask) "$NIO_BIN" "$port" "$HOST" --word-unmask >"$logfile" 2>&1 & ;;
        hummingbird) "$HB_BIN" "$port" "$HOST" "${extra[@]}" >"$logfile" 2>&1 & ;;
        gorilla) "$GORILLA_BIN" -addr "$HOST:$port" "${extra[@]}" >"$logfile" 2>&1 & ;;
        python-websockets) "$PY" "$BENCH_DIR/peers/python_websockets_echo.py" "$port" "$HOST" "${extra[@]}" >"$logfile" 2>&1 & ;;
        picows) "$PY" "$BENCH_DIR/peers/picows_echo.py" "$port" "$HOST" >"$logfile" 2>&1 & ;;
    esac
    SERVER_PID=$! LAUNCH_PID=$!
    local deadline=$((SECONDS + 30))
    until port_open "$port"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$name exited before listening:"; tail -5 "$logfile" >&2; SERVER_PID=""; return 1
        fi
        ((SECONDS < deadline)) || { log "$name did not listen within 30 s"; stop_server; return 1; }
        sleep 0.1
    done
    # Memory is read from /proc/SERVER_PID: make sure that is the process holding the listening socket.
    local listener
    listener=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    if [[ -n "$listener" && "$listener" != "$SERVER_PID" ]]; then
        log "$name: listening process is $listener (launched as $SERVER_PID); measuring $listener"
        SERVER_PID=$listener
    fi
}

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    if [[ -n "$LAUNCH_PID" && "$LAUNCH_PID" != "$SERVER_PID" ]]; then kill -TERM "$LAUNCH_PID" 2>/dev/null || true; fi
    wait "$LAUNCH_PID" 2>/dev/null || true
    SERVER_PID="" LAUNCH_PID=""
}
BENCH_BG_PID=""
trap '[[ -n "$BENCH_BG_PID" ]] && kill "$BENCH_BG_PID" 2>/dev/null; stop_server' EXIT
trap 'log "interrupted"; exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- scenarios ------------------------------------------------------------------------------------
# name -> arguments for `wsgate bench` (besides --url, --duration, --warmup, --json)
scenario_args() {
    case "$1" in
        echo-64B) echo "--mode echo --size 64 --connections 100 --pipeline 16" ;;
        flood-64B) echo "--mode flood --size 64 --connections 100" ;;
        echo-1KiB) echo "--mode echo --size 1024 --connections 100 --pipeline 16" ;;
        echo-64KiB) echo "--mode echo --size 65536 --connections 10 --pipeline 4 --binary" ;;
        echo-1MiB) echo "--mode echo --size 1048576 --connections 10 --pipeline 2 --binary" ;;
        wss-64B) echo "--mode echo --size 64 --connections 100 --pipeline 16 --ca-file $CERT" ;;
        wss-1KiB) echo "--mode echo --size 1024 --connections 100 --pipeline 16 --ca-file $CERT" ;;
        wss-64KiB) echo "--mode echo --size 65536 --connections 10 --pipeline 4 --binary --ca-file $CERT" ;;
        deflate-chat) echo "--mode echo --payload chat --compression --connections 100 --pipeline 16" ;;
        deflate-flood) echo "--mode flood --payload chat --compression --connections 100" ;;
        handshake) echo "--mode handshake --size 64 --connections $HANDSHAKE_CONNECTIONS --pipeline 1" ;;
        idle) echo "--mode idle --size 64 --connections $IDLE_CONNECTIONS --pipeline 1 --source-addresses $IDLE_SOURCES" ;;
        mem-10k) echo "--mode idle --payload chat --idle-messages 1 --connections $MEM_CONNECTIONS --source-addresses $IDLE_SOURCES" ;;
        mem-10k-deflate) echo "--mode idle --payload chat --idle-messages 1 --compression --connections $MEM_CONNECTIONS --source-addresses $IDLE_SOURCES" ;;
    esac
}
url_for() { # scenario port
    if [[ "$(variant_of "$1")" == tls ]]; then echo "wss://$HOST:$2/echo"; else echo "ws://$HOST:$2/echo"; fi
}

# Runs one bench invocation, bounded in time; the JSON goes to $file, progress to $file.log.
run_bench() { # server port scenario file duration warmup limit
    local server=$1 port=$2 scenario=$3 file=$4 duration=$5 warmup=$6 limit=$7 rc=0
    # shellcheck disable=SC2046
    timeout --kill-after=10 "$limit" "$WSGATE" bench --url "$(url_for "$scenario" "$port")" $(scenario_args "$scenario") \
        --duration "$duration" --warmup "$warmup" --json >"$file.tmp" 2>"${file%.json}.log" || rc=$?
    if ((rc == 0)) && "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$file.tmp" 2>/dev/null; then
        mv "$file.tmp" "$file"
        return 0
    fi
    local why="exit $rc"; ((rc == 124 || rc == 137)) && why="timed out after $limit s"
    log "  $scenario on $server failed ($why); see ${file%.json}.log"
    printf '{"failed": true, "reason": "%s"}\n' "$why" >"$file"
    rm -f "$file.tmp"
    return 1
}

check_server() { # name port
    [[ "$CHECK" == 1 ]] || return 0
    if ! timeout 90 "$PY" "$BENCH_DIR/check_echo.py" "ws://$HOST:$2/echo" >>"$OUT/check.log" 2>&1; then
        log "echo check FAILED for $1 (see $OUT/check.log)"
        return 1
    fi
}

# One budget for every echo/handshake run: the run itself plus room for connecting and closing.
RUN_LIMIT=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", d + w + 60 }')
IDLE_LIMIT=$(awk -v d="$IDLE_DURATION" -v n="$IDLE_CONNECTIONS" 'BEGIN { printf "%d", d + 1 + 120 + n / 500 }')
MEM_LIMIT=$(awk -v d="$MEM_HOLD" -v n="$MEM_CONNECTIONS" 'BEGIN { printf "%d", d + 1 + 120 + n / 200 }')

LOAD_SCENARIOS="" MEM_SCENARIOS=""
for s in $SCENARIOS; do
    if is_memory_scenario "$s"; then MEM_SCENARIOS+="$s "; else LOAD_SCENARIOS+="$s "; fi
done
for s in $SCENARIOS; do [[ "$(variant_of "$s")" != tls ]] || make_certificate; done
SCENARIO_SERVERS_JSON=$(for s in $SCENARIOS; do printf '"%s": "%s", ' "$s" "$(servers_for "$s" | xargs)"; done)

cat >"$OUT/meta.json" <<EOF
{"timestamp": "$STAMP", "rounds": $ROUNDS, "duration_s": $DURATION, "warmup_s": $WARMUP,
 "servers": "$SERVERS", "idle_servers": "$IDLE_SERVERS", "scenarios": "$SCENARIOS",
 "scenario_servers": {${SCENARIO_SERVERS_JSON%, }},
 "idle_connections": $IDLE_CONNECTIONS, "idle_connections_requested": $IDLE_REQUESTED, "fd_limit": "$FD_LIMIT",
 "idle_duration_s": $IDLE_DURATION, "idle_sources": "$IDLE_SOURCES",
 "mem_connections": $MEM_CONNECTIONS, "mem_hold_s": $MEM_HOLD,
 "handshake_connections": $HANDSHAKE_CONNECTIONS,
 "wsgate_commit": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)",
 "cores": $(nproc), "kernel": "$(uname -r)", "loadavg_before": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
awk '{ exit !($1 > 0.5) }' /proc/loadavg &&
    log "warning: load average is $LOAD_BEFORE before starting: other processes compete for the cores, results will be noisy"
log "rounds $ROUNDS; servers: $SERVERS; scenarios: $SCENARIOS; ${DURATION}s per run (+${WARMUP}s warm-up)"
declare -A CHECKED=()
T_START=$SECONDS
# Round r starts with the r-th server (rotation), so no server always runs first or last.
rotate() { # offset words...
    local k=$1; shift
    local n=$# i
    for ((i = 0; i < n; i++)); do
        local j=$(((i + k) % n + 1))
        printf '%s ' "${!j}"
    done
}

# Holds connections to a fresh server while sampling its VmRSS: before (after one warm-up connection), peak, and
# held — the last sample at least a second before the hold ends, with every connection open and quiet (for the
# mem-* scenarios: after wsgate's compression rest).
measure_memory() { # server scenario round
    local server=$1 sc=$2 round=$3 port file duration limit
    port=$(port_of "$server")
    file="$OUT/$sc--$server--r$round.json"
    if [[ "$sc" == idle ]]; then duration=$IDLE_DURATION limit=$IDLE_LIMIT; else duration=$MEM_HOLD limit=$MEM_LIMIT; fi
    log "round $round/$ROUNDS: $sc on $server ($HOST:$port)"
    start_server "$server" "$port" "$OUT/server-$server-$sc-r$round.log" "$(variant_of "$sc")" || {
        printf '{"failed": true, "reason": "server did not start"}\n' >"$file"; return 0; }
    # Baseline after one small-message connection has come and gone (lazy allocations, first handshake).
    timeout 30 "$WSGATE" bench --url "ws://$HOST:$port/echo" --connections 1 --size 64 --duration 0.3 \
        --warmup 0 >/dev/null 2>&1 || true
    sleep 1
    local before peak peak_fds held=0 opened_at="" r f bench_pid hold_end
    before=$(rss_kib "$SERVER_PID")
    run_bench "$server" "$port" "$sc" "$file" "$duration" 1 "$limit" &
    bench_pid=$! BENCH_BG_PID=$!
    peak=$before peak_fds=0
    # The generator logs "N connections open" once all are open; then come 1 s of warm-up and the hold.
    hold_end=$(awk -v d="$duration" 'BEGIN { printf "%d", 1 + d - 1 }')
    while kill -0 "$bench_pid" 2>/dev/null; do
        r=$(rss_kib "$SERVER_PID"); ((r > peak)) && peak=$r
        f=$(ls "/proc/$SERVER_PID/fd" 2>/dev/null | wc -l); ((f > peak_fds)) && peak_fds=$f
        if [[ -z "$opened_at" ]] && grep -q 'connections open' "${file%.json}.log" 2>/dev/null; then opened_at=$SECONDS; fi
        if [[ -n "$opened_at" ]] && ((SECONDS - opened_at < hold_end)); then held=$r; fi
        sleep 0.25
    done
    wait "$bench_pid" || true
    BENCH_BG_PID=""
    local after; after=$(rss_kib "$SERVER_PID")
    printf '{"server_rss_before_kib": %d, "server_rss_peak_kib": %d, "server_rss_held_kib": %d, "server_rss_after_kib": %d, "server_fds_peak": %d}\n' \
        "$before" "$peak" "$held" "$after" "$peak_fds" >"${file%.json}.mem.json"
    log "  $sc: $("$PY" "$BENCH_DIR/report.py" --one "$file")"
    stop_server
}

for round in $(seq 1 "$ROUNDS"); do
    # Scenario by scenario, every server in turn: the runs compared in one table cell are minutes, not a
    # whole round, apart, so load that comes and goes on the machine hits them alike. Each run gets a
    # fresh server process.
    for sc in $LOAD_SCENARIOS; do
        variant=$(variant_of "$sc")
        # shellcheck disable=SC2046
        for server in $(rotate $((round - 1)) $(servers_for "$sc")); do
            port=$(port_of "$server")
            file="$OUT/$sc--$server--r$round.json"
            start_server "$server" "$port" "$OUT/server-$server-$sc-r$round.log" "$variant" || {
                printf '{"failed": true, "reason": "server did not start"}\n' >"$file"
                continue
            }
            # The echo check speaks ws:// (a TLS variant is the same echo behind TLS).
            if [[ "$variant" != tls && -z "${CHECKED[$server]:-}" ]]; then
                if check_server "$server" "$port"; then CHECKED[$server]=ok; else CHECKED[$server]=failed; fi
            fi
            run_bench "$server" "$port" "$sc" "$file" "$DURATION" "$WARMUP" "$RUN_LIMIT" &&
                log "round $round/$ROUNDS $server $sc: $("$PY" "$BENCH_DIR/report.py" --one "$file")" || true
            stop_server
        done
    done
    for sc in $MEM_SCENARIOS; do
        # shellcheck disable=SC2046
        for server in $(rotate $((round - 1)) $(servers_for "$sc")); do
            measure_memory "$server" "$sc" "$round"
        done
    done
done
log "all runs done in $((SECONDS - T_START)) s (load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg))"
"$PY" - "$OUT/meta.json" "$(cut -d' ' -f1-3 /proc/loadavg)" "$((SECONDS - T_START))" <<'PYEOF'
import json, sys
path, load, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
meta = json.load(open(path))
meta.update(loadavg_after=load, run_seconds=seconds)
json.dump(meta, open(path, "w"), indent=1)
PYEOF

"$PY" "$BENCH_DIR/report.py" "$OUT" --servers "$SERVERS" --scenarios "$SCENARIOS" --idle-servers "$IDLE_SERVERS" \
    --checks "$(for s in "${!CHECKED[@]}"; do printf '%s=%s ' "$s" "${CHECKED[$s]}"; done)" | tee "$OUT/table.md"
log "raw results and table.md in $OUT"
