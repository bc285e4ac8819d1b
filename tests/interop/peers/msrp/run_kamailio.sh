#!/usr/bin/env bash
# run_kamailio.sh MSRP_PORT WS_PORT RUNDIR — Kamailio 5.6 as an MSRP relay on 127.0.0.1, in the foreground.
#   MSRP_PORT: plain MSRP over TCP (Use-Path URIs point here: msrp://127.0.0.1:MSRP_PORT/<sid>;tcp)
#   WS_PORT:   HTTP -> WebSocket, subprotocol "msrp" (any path), RFC 7977
#   RUNDIR:    private directory for the generated config and Kamailio's runtime files (created)
# Environment:
#   MSRP_DIGEST=1          AUTH needs Digest (RFC 2617 MD5, qop=auth, digest method "AUTH")
#   MSRP_DIGEST_METHOD=MSRP with MSRP_DIGEST=1: Kamailio checks the digest with method "MSRP" instead
#   MSRP_USER / MSRP_PASSWORD / MSRP_REALM   credentials (default alice / secret / wsgate-test)
#   MSRP_MIN_EXPIRES / MSRP_MAX_EXPIRES       AUTH Expires bounds (default 60 / 3600)
#   KAM_DEBUG              Kamailio log level (default 2 = info; 3 = debug, shows every frame)
#   KAM_CORE=1             allow core dumps (written into RUNDIR, Kamailio's working directory)
#   MSRP_TLS_PORT=P3       also MSRP over TLS (msrps) on 127.0.0.1:P3, with the tls module; needs
#   MSRP_TLS_CERT / MSRP_TLS_KEY   PEM certificate chain and key Kamailio presents on P3
#   MSRP_TLS_CA            PEM CAs Kamailio verifies msrps next hops with (it connects to them as a TLS
#                          client); without it Kamailio does not verify them. RUNDIR/tls.cfg is written.
#                          Kamailio's Use-Path says msrps:// for an AUTH over TLS, and its host:port is
#                          use_path_addr (one value for every listener), so with MSRP_TLS_PORT it is left
#                          unset by default: each Use-Path then names the listener the AUTH came in on
#                          (TCP: P1, TLS: P3 -- and WebSocket: P2, where Kamailio also reads plain MSRP).
#   MSRP_USE_PATH_ADDR     host:port for use_path_addr (default 127.0.0.1:MSRP_PORT; with MSRP_TLS_PORT:
#                          unset); empty = unset
# Logs go to stderr. SIGTERM (or Ctrl-C) stops Kamailio and all its children.
set -euo pipefail
if (($# != 3)); then
    echo "usage: $0 MSRP_PORT WS_PORT RUNDIR" >&2
    exit 2
fi
P1=$1 P2=$2 RUNDIR=$3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAMAILIO="${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}"
[[ -x "$KAMAILIO" ]] || { echo "run_kamailio.sh: kamailio not installed (scripts/install-test-deps.sh)" >&2; exit 1; }

mkdir -p "$RUNDIR"
RUNDIR="$(cd "$RUNDIR" && pwd)"
CFG="$RUNDIR/kamailio.cfg"
DEFS=()
TLS_PORT="${MSRP_TLS_PORT:-}"
if [[ -n "$TLS_PORT" ]]; then
    USE_PATH_ADDR="${MSRP_USE_PATH_ADDR-}"
else
    USE_PATH_ADDR="${MSRP_USE_PATH_ADDR-127.0.0.1:$P1}"
fi
[[ -z "$USE_PATH_ADDR" ]] && DEFS+=(-A NO_USE_PATH_ADDR)
if [[ -n "$TLS_PORT" ]]; then
    [[ -r "${MSRP_TLS_CERT:-}" && -r "${MSRP_TLS_KEY:-}" ]] ||
        { echo "run_kamailio.sh: MSRP_TLS_PORT needs readable MSRP_TLS_CERT and MSRP_TLS_KEY" >&2; exit 2; }
    CERT="$(realpath "$MSRP_TLS_CERT")" KEY="$(realpath "$MSRP_TLS_KEY")"
    {
        echo "# written by run_kamailio.sh"
        echo "[server:default]"
        echo "method = TLSv1.2+"
        echo "certificate = $CERT"
        echo "private_key = $KEY"
        echo "verify_certificate = no"
        echo "require_certificate = no"
        echo
        echo "[client:default]"
        echo "method = TLSv1.2+"
        if [[ -n "${MSRP_TLS_CA:-}" ]]; then
            echo "ca_list = $(realpath "$MSRP_TLS_CA")"
            echo "verify_certificate = yes"
            echo "require_certificate = yes"
        else
            echo "verify_certificate = no"
            echo "require_certificate = no"
        fi
    } >"$RUNDIR/tls.cfg"
    DEFS+=(-A WITH_TLS)
fi
sed -e "s|@MSRP_PORT@|$P1|g" -e "s|@WS_PORT@|$P2|g" \
    -e "s|@TLS_PORT@|${TLS_PORT:-0}|g" -e "s|@TLS_CFG@|$RUNDIR/tls.cfg|g" \
    -e "s|@USE_PATH_ADDR@|$USE_PATH_ADDR|g" \
    -e "s|@DEBUG@|${KAM_DEBUG:-2}|g" \
    -e "s|@MIN_EXPIRES@|${MSRP_MIN_EXPIRES:-60}|g" -e "s|@MAX_EXPIRES@|${MSRP_MAX_EXPIRES:-3600}|g" \
    -e "s|@REALM@|${MSRP_REALM:-wsgate-test}|g" -e "s|@USERNAME@|${MSRP_USER:-alice}|g" \
    -e "s|@PASSWORD@|${MSRP_PASSWORD:-secret}|g" \
    "$HERE/kamailio.cfg.tmpl" >"$CFG"

if [[ "${MSRP_DIGEST:-0}" == 1 ]]; then
    DEFS+=(-A WITH_DIGEST)
    [[ "${MSRP_DIGEST_METHOD:-AUTH}" == MSRP ]] && DEFS+=(-A DIGEST_METHOD_MSRP)
fi

if [[ "${KAM_CORE:-0}" == 1 ]]; then DEFS+=(-A KAM_CORE); else ulimit -c 0; fi

# -DD: stay in the foreground (children are forked but the creator does not daemonize); -E: log to stderr;
# -Y: runtime dir (no /run/kamailio); -w: working dir (cores); -P: pid file; -m/-M: small shared/private memory.
# exec: SIGTERM from the caller reaches Kamailio's main process, which stops its children and exits.
exec "$KAMAILIO" -f "$CFG" -DD -E -Y "$RUNDIR" -w "$RUNDIR" -P "$RUNDIR/kamailio.pid" -m 64 -M 8 "${DEFS[@]}"
