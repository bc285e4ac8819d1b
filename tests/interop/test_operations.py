"""Operating `wsgate serve`: SIGTERM drains every client with close 1001 and exits 0; --allowed-origin
refuses other browser origins with 403; --max-connections / --max-connections-per-address answer 503."""
import asyncio
import signal
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import HOST, Procs, start_server, tail

TIMEOUT = 30


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def test_sigterm_closes_every_client_with_1001_and_exits_0(procs, wsgate_bin):
    srv = start_server(procs, wsgate_bin, "wsgate-serve-sigterm")

    async def go():
        clients = [await connect(srv.url(path), open_timeout=TIMEOUT) for path in ("/echo", "/echo", "/broadcast")]
        for ws in clients:  # each is really open
            await ws.send("before shutdown")
            assert await ws.recv() == "before shutdown"
        srv.proc.send_signal(signal.SIGTERM)
        for ws in clients:
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert ws.close_code == 1001, (ws.close_code, ws.close_reason)
            assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1001

    run(go())
    start = time.monotonic()
    rc = srv.proc.wait(10)
    assert rc == 0, f"exit {rc}\n{tail(srv.log)}"
    assert time.monotonic() - start < 5
    log = srv.log.read_text(errors="replace")
    assert "shutting down" in log and "stopped" in log, tail(srv.log)


def test_allowed_origin(procs, wsgate_bin):
    srv = start_server(procs, wsgate_bin, "wsgate-serve-origin", "--allowed-origin", "https://good.example",
                       "--allowed-origin", "https://*.trusted.example")

    async def go():
        for origin in ("https://good.example", "https://app.trusted.example", None):
            async with connect(srv.url(), origin=origin, open_timeout=TIMEOUT) as ws:
                await ws.send("hi")
                assert await ws.recv() == "hi"
        for origin in ("https://evil.example", "https://trusted.example", "null"):
            with pytest.raises(InvalidStatus) as e:
                await connect(srv.url(), origin=origin, open_timeout=TIMEOUT)
            assert e.value.response.status_code == 403

    run(go())
    assert "origin https://evil.example is not allowed" in srv.log.read_text(errors="replace")
    Procs.stop(srv.proc)


def test_max_connections_answers_503_and_spares_the_others(procs, wsgate_bin):
    srv = start_server(procs, wsgate_bin, "wsgate-serve-limits", "--max-connections", "3",
                       "--max-connections-per-address", "2")

    async def admitted(**kwargs):
        """Connects, retrying a 503 for a few seconds: start_server's readiness probe is a connection from
        127.0.0.1 too, and the gateway counts it until it has read its close (a moment on a busy machine)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                return await connect(srv.url(), open_timeout=TIMEOUT, **kwargs)
            except InvalidStatus as e:
                if e.response.status_code != 503 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def go():
        a = await admitted()
        b = await admitted()
        with pytest.raises(InvalidStatus) as e:  # a third from 127.0.0.1
            await connect(srv.url(), open_timeout=TIMEOUT)
        assert e.value.response.status_code == 503
        # From another address: admitted (3 in all), then the total limit refuses a fourth.
        c = await admitted(local_addr=("127.0.0.2", 0))
        with pytest.raises(InvalidStatus) as e:
            await connect(srv.url(), open_timeout=TIMEOUT, local_addr=("127.0.0.3", 0))
        assert e.value.response.status_code == 503
        for ws in (a, b, c):
            await ws.send("still served")
            assert await ws.recv() == "still served"
            await ws.close()

    run(go())
    assert "connection refused" in srv.log.read_text(errors="replace")
    Procs.stop(srv.proc)


def test_json_log_format(procs, wsgate_bin):
    import json
    srv = start_server(procs, wsgate_bin, "wsgate-serve-json-log", "--log-format", "json", "--allowed-origin",
                       "https://only.example")

    async def go():
        with pytest.raises(InvalidStatus):
            await connect(srv.url(), origin="https://other.example", open_timeout=TIMEOUT)

    run(go())
    Procs.stop(srv.proc)
    records = [json.loads(line) for line in srv.log.read_text().splitlines() if line.strip()]
    assert all({"ts", "level", "label", "msg"} <= r.keys() for r in records), records
    listening = [r for r in records if r["msg"].startswith("wsgate listening on ws://")]
    assert listening and "/echo" in listening[0]["services"]
    refused = [r for r in records if r["msg"] == "handshake refused"]
    assert refused and refused[0]["status"] == "403" and "other.example" in refused[0]["detail"]


def test_tcp_proxy_bridges_to_a_tcp_backend(procs, wsgate_bin):
    """`--tcp-proxy /up=HOST:PORT` (websockify): binary messages to a TCP server and its bytes back."""
    import socket
    import threading

    from conftest import free_port

    backend_port = free_port()
    listener = socket.create_server((HOST, backend_port))

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            def upper(c=conn):
                with c:
                    while data := c.recv(65536):
                        c.sendall(data.upper())
            threading.Thread(target=upper, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    srv = start_server(procs, wsgate_bin, "wsgate-serve-tcp-proxy", "--tcp-proxy", f"/up={HOST}:{backend_port}")

    async def go():
        async with connect(srv.url("/up"), open_timeout=TIMEOUT, max_size=None) as ws:
            payload = b"websockify " * 50_000
            await ws.send(payload)
            got = b""
            while len(got) < len(payload):
                got += await ws.recv()
            assert got == payload.upper()

    try:
        run(go())
    finally:
        listener.close()
        Procs.stop(srv.proc)
