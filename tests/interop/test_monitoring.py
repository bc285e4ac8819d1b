"""`/metrics` read by the reference Prometheus parser (prometheus_client) while real clients make traffic:
the counters move exactly with what the clients did. Also the switches that turn the endpoints off."""
import asyncio
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import HOST, Procs, start_server

TIMEOUT = 30


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def scrape(srv) -> dict:
    """{(sample name, frozenset(labels)): value}, parsed by prometheus_client (which rejects malformed text)."""
    with urllib.request.urlopen(f"http://{HOST}:{srv.port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("wsgate_"), family.name
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def wait_for(srv, condition, timeout=10.0):
    """Scrapes until condition(samples) holds: a close is counted once the server has processed it."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(srv)
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def http_status(url) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_metrics_parse_and_move_with_traffic(procs, wsgate_bin):
    srv = start_server(procs, wsgate_bin, "wsgate-serve-metrics", "--allowed-origin", "https://good.example")
    echo = dict(protocol="rfc6455", service="/echo")
    before = scrape(srv)
    assert value(before, "wsgate_messages_received_total", **echo) == 0
    assert value(before, "wsgate_handshake_failures_total", reason="origin_denied") == 0
    # every refusal reason is exported before it happens
    reasons = {dict(labels)["reason"] for (name, labels) in before if name == "wsgate_handshake_failures_total"}
    assert {"not_found", "origin_denied", "timeout", "connection_limit", "invalid_handshake"} <= reasons

    async def go():
        async with connect(srv.url("/echo"), origin="https://good.example", compression=None) as ws:
            for i in range(5):
                await ws.send(f"message {i:02d}")  # 10 bytes each
                assert await ws.recv() == f"message {i:02d}"
            await ws.send(b"\x00" * 1000)
            assert len(await ws.recv()) == 1000
            mid = scrape(srv)
            assert value(mid, "wsgate_connections", **echo) == 1
        with pytest.raises(InvalidStatus):
            await connect(srv.url("/echo"), origin="https://evil.example", open_timeout=TIMEOUT)
        with pytest.raises(InvalidStatus):
            await connect(srv.url("/nothing-here"), open_timeout=TIMEOUT)

    run(go())
    closes = dict(**echo, code="1000", initiator="peer")
    after = wait_for(srv, lambda s: value(s, "wsgate_closes_total", **closes) == 1)
    assert value(after, "wsgate_handshakes_total", **echo) == 1
    assert value(after, "wsgate_messages_received_total", **echo) == 6
    assert value(after, "wsgate_received_bytes_total", **echo) == 5 * 10 + 1000
    assert value(after, "wsgate_messages_sent_total", **echo) == 6
    assert value(after, "wsgate_sent_bytes_total", **echo) == 5 * 10 + 1000
    assert value(after, "wsgate_connections", **echo) == 0
    assert value(after, "wsgate_closes_total", **closes) == 1
    assert value(after, "wsgate_handshake_failures_total", reason="origin_denied") == 1
    assert value(after, "wsgate_handshake_failures_total", reason="not_found") == 1
    Procs.stop(srv.proc)


def test_a_client_that_never_reads_is_counted_as_a_send_queue_drop(procs, wsgate_bin):
    srv = start_server(procs, wsgate_bin, "wsgate-serve-slow-consumer", "--max-send-queue", "1048576")
    # A raw client that completes the handshake on /broadcast, then never reads again.
    stuck = socket.create_connection((HOST, srv.port), timeout=10)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /broadcast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert stuck.recv(4096).startswith(b"HTTP/1.1 101")

    async def flood():
        async with connect(srv.url("/broadcast"), compression=None, max_size=None) as ws:
            for _ in range(200):  # 12.5 MiB towards a reader that takes nothing
                await ws.send(b"\xab" * 65536)
                await ws.recv()  # the sender reads its own copies

    run(flood())
    broadcast = dict(protocol="rfc6455", service="/broadcast")
    samples = wait_for(srv, lambda s: value(s, "wsgate_send_queue_drops_total", **broadcast) == 1)
    assert value(samples, "wsgate_send_queue_drops_total", **broadcast) == 1
    assert value(samples, "wsgate_closes_total", **broadcast, code="1008", initiator="gateway") in (0, 1)
    stuck.close()
    samples = wait_for(srv, lambda s: value(s, "wsgate_closes_total", **broadcast, code="1008", initiator="gateway") == 1)
    assert value(samples, "wsgate_closes_total", **broadcast, code="1008", initiator="gateway") == 1
    Procs.stop(srv.proc)


def test_metrics_and_console_can_be_turned_off(procs, wsgate_bin):
    on = start_server(procs, wsgate_bin, "wsgate-serve-endpoints-on")
    assert http_status(f"http://{HOST}:{on.port}/metrics") == 200
    assert http_status(f"http://{HOST}:{on.port}/") == 200
    Procs.stop(on.proc)
    off = start_server(procs, wsgate_bin, "wsgate-serve-endpoints-off", "--no-metrics", "--no-console")
    assert http_status(f"http://{HOST}:{off.port}/metrics") == 404
    assert http_status(f"http://{HOST}:{off.port}/") == 404

    async def live_feed_gone():
        with pytest.raises(InvalidStatus) as e:
            await connect(off.url("/console/live"), open_timeout=TIMEOUT)
        assert e.value.response.status_code == 404

    run(live_feed_gone())
    Procs.stop(off.proc)
