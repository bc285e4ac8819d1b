#!/usr/bin/env bash
# Installs everything the interop / conformance tests need, on a fresh Debian
# machine whose only network is Debian's apt and PyPI. Run as root from anywhere.
# Idempotent: every step checks first, so a second run takes a second or two.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
mkdir -p "$DEPS"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONWARNINGS=ignore

log() { echo "install-test-deps: $*" >&2; }

# pyenv's interpreters (the image ships them; PATH may lack pyenv under CI).
PYENV_ROOT="${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}"

# --- Debian packages -------------------------------------------------------
# chromium + fonts: the real browser peer (driven by Playwright, never downloaded).
# util-linux: `unshare -n` (private net namespace for Autobahn's 0.0.0.0 fuzzingserver).
# iproute2: `ip link set lo up` inside that namespace.
# tinyproxy: a real HTTP CONNECT proxy for the client's proxy tests; openssl: the test CA and certificates.
# zlib1g-dev: the zlib permessage-deflate links against (usually present already).
# ruby-em-websocket, ruby-websocket (pull in ruby): hixie-75/76 peers, tests/interop/peers/hixie/*.rb.
# kamailio + websocket/tls modules: the real MSRP relay peer (RFC 4976 + RFC 7977); tests start their own
# instance with tests/interop/peers/msrp/run_kamailio.sh (the packaged kamailio.service is not used).
# ffmpeg, rtmpdump, python3-librtmp (for /usr/bin/python3), nginx-light + libnginx-mod-rtmp: the real RTMP peers of
# the WSR tests (tests/interop/test_wsr.py; nginx is started by the test with its own config, never as a service).
# postgresql-15: the cluster backplane's database (tests/interop/postgres.py makes its own with initdb and pg_ctl
# in a temporary folder, run as the postgres user; the packaged cluster and service are not used).
# websocketd: the reference exec service (`wsgate connect` against it running /bin/cat, and the exec service's twin);
# golang-go + golang-github-gorilla-websocket-dev: the gorilla (Go) peer of the `wsgate connect` tests
# (tests/interop/peers/gorilla, built by the test into its report folder).
# haproxy: the load balancer in front of several gateways (tests/interop/test_cluster.py runs it with
# docs/cluster/haproxy.cfg as written, in the foreground; the packaged haproxy.service is not used).
APT_PKGS=(chromium fonts-liberation util-linux iproute2 tinyproxy openssl zlib1g-dev
          ruby-em-websocket ruby-websocket
          kamailio kamailio-websocket-modules kamailio-tls-modules
          ffmpeg rtmpdump python3-librtmp nginx-light libnginx-mod-rtmp
          haproxy postgresql-15 websocketd golang-go golang-github-gorilla-websocket-dev)
bash "$ROOT/scripts/apt-ensure.sh" "${APT_PKGS[@]}"
/usr/bin/python3 -c 'import librtmp' || { log "the system python cannot import librtmp"; exit 1; }
[[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]] || { log "ngx_rtmp_module.so missing"; exit 1; }
ruby -e 'require "em-websocket"; require "websocket"' ||
    { log "ruby cannot load em-websocket / websocket"; exit 1; }
for m in msrp websocket xhttp; do
    ls /usr/lib/*/kamailio/modules/$m.so >/dev/null 2>&1 || { log "kamailio module $m.so missing"; exit 1; }
done

# --- Node: faye-websocket (hixie-75/76 server peer) --------------------------
# The image's Node (nodesource) conflicts with Debian's node-* packages, so their debs are only
# unpacked (dpkg -x) under .deps/node; tests run node with NODE_PATH=$DEPS/node/usr/share/nodejs.
# Without any node on PATH, Debian's own nodejs is installed (faye works with it too).
command -v node >/dev/null 2>&1 || bash "$ROOT/scripts/apt-ensure.sh" nodejs
NODE_DIR="$DEPS/node"
NODE_DEBS=(node-faye-websocket node-websocket-driver node-safe-buffer)
if ! NODE_PATH="$NODE_DIR/usr/share/nodejs" node -e 'require("faye-websocket")' >/dev/null 2>&1; then
    log "unpacking ${NODE_DEBS[*]} into $NODE_DIR"
    tmp="$(mktemp -d)"
    # APT::Sandbox::User=root: _apt may not write into a root-only mktemp dir
    if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "${NODE_DEBS[@]}"); then
        apt-get update -qq
        (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "${NODE_DEBS[@]}")
    fi
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$NODE_DIR"; done
    rm -rf "$tmp"
    NODE_PATH="$NODE_DIR/usr/share/nodejs" node -e 'require("faye-websocket")'
fi

# --- Autobahn|TestSuite (Python 2.7 only) ----------------------------------
# pyenv ships 2.7.18; virtualenv 20.15.1 is the last one that still creates 2.7 venvs.
AB="$DEPS/autobahn"
if ! "$AB/bin/wstest" --help >/dev/null 2>&1; then
    PY27="$PYENV_ROOT/versions/2.7.18/bin/python"
    [[ -x "$PY27" ]] || { log "missing $PY27 (pyenv 2.7.18)"; exit 1; }
    log "creating Autobahn venv at $AB"
    "$PY27" -m virtualenv --version >/dev/null 2>&1 ||
        "$PY27" -m pip install -q --user --no-warn-script-location virtualenv==20.15.1
    rm -rf "$AB"
    "$PY27" -m virtualenv -q -p "$PY27" "$AB"
    "$AB/bin/pip" install -q autobahntestsuite==25.10.1
    "$AB/bin/wstest" --help >/dev/null
fi

# --- Python 3 venv: pytest, websockets, playwright, prometheus_client ---------
# Use pyenv's 3.11 (plain `python3` on PATH); Debian's /usr/bin/python3 is left alone.
PYV="$DEPS/py"
# PyJWT (+ cryptography for RS256/ES256/EdDSA): the independent minter of the access-control tests' tokens.
if ! "$PYV/bin/python" -c 'import pytest, websockets, playwright.sync_api, prometheus_client, jwt, cryptography' >/dev/null 2>&1; then
    log "creating Python venv at $PYV"
    PY3="$(ls -d "$PYENV_ROOT"/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -1)"
    [[ -n "$PY3" ]] || PY3="$(command -v python3)"
    rm -rf "$PYV"
    "$PY3" -m venv "$PYV"
    # Playwright's pip package carries its own driver (node); the browser is
    # /usr/bin/chromium via executable_path, so no `playwright install` ever.
    "$PYV/bin/pip" install -q pytest==9.2.0 websockets==17.4 playwright==1.65.2 prometheus-client==0.26.0 \
        pyjwt==2.15.1 cryptography==50.0.2
    "$PYV/bin/python" -c 'import pytest, websockets, playwright.sync_api, prometheus_client, jwt, cryptography'
fi

log "ok"
