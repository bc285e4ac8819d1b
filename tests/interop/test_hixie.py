"""hixie-75 / hixie-76 (the drafts early browsers spoke) against real third-party peers.

wsgate serve answers them on the same port and paths as RFC 6455: the Ruby `websocket` gem's client (75, 76),
Autobahn 0.10.9's hixie-76 client (which sends `Content-Length: 8` with its key3), RFC 6455 clients at the same
time, and a broadcast shared by all three wires. `wsgate connect --draft 75|76` against em-websocket, faye
and Autobahn's hixie-76 server. Bad input: wrong keys, a text frame without its 0xFF, an oversized frame.
Peer scripts: tests/interop/peers/hixie (README there).
"""
import asyncio
import os
import queue
import socket
import subprocess
import threading
import time

import pytest
from websockets.asyncio.client import connect

from conftest import HOST, REPO, Procs, free_port, raw_exchange, start_server, tail, wait_port

PEERS = REPO / "tests" / "interop" / "peers" / "hixie"
AUTOBAHN_PY = REPO / ".deps" / "autobahn" / "bin" / "python"
NODE_ENV = {**os.environ, "NODE_PATH": str(REPO / ".deps" / "node" / "usr" / "share" / "nodejs")}
TIMEOUT = 30
# Autobahn 0.10.9 fails a connection on an empty hixie message, so the lines avoid one.
LINES = ["hello", "wörld ✓ 😀", "x" * 3000, "bye"]


def ruby_client(url: str, draft: str, lines, origin="http://example.com"):
    return subprocess.run(["ruby", str(PEERS / "ruby_client.rb"), url, draft, origin],
                          input="".join(l + "\n" for l in lines), capture_output=True, text=True, timeout=TIMEOUT)


def autobahn_client(url: str, messages, *extra):
    return subprocess.run([str(AUTOBAHN_PY), str(PEERS / "autobahn_hixie76_client.py"), *extra, url, *messages],
                          capture_output=True, text=True, timeout=TIMEOUT)


def wsgate_connect(wsgate_bin, url: str, draft: str, lines, *extra):
    return subprocess.run([str(wsgate_bin), "connect", "--draft", draft, *extra, url],
                          input="".join(l + "\n" for l in lines), capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.parametrize("draft", ["75", "76"])
def test_ruby_websocket_gem_client_against_wsgate(server, draft):
    r = ruby_client(server.url("/echo"), draft, LINES)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == LINES
    assert "OPEN" in r.stderr


def test_autobahn_hixie76_client_with_content_length_8(server):
    r = autobahn_client(server.url("/echo"), LINES[:3])
    assert r.returncode == 0, r.stderr + r.stdout
    assert r.stdout.splitlines() == LINES[:3]


def test_rfc6455_and_hixie_clients_on_one_port_at_once(server):
    """Two hixie clients of each draft and an RFC 6455 client, all connected at the same time."""
    results = {}

    def run(name, fn):
        results[name] = fn()

    threads = [threading.Thread(target=run, args=(f"ruby{d}-{i}", lambda d=d: ruby_client(server.url("/echo"), d, LINES)))
               for d in ("75", "76") for i in range(2)]
    threads.append(threading.Thread(target=run, args=("autobahn", lambda: autobahn_client(server.url("/echo"), LINES[:2]))))
    for t in threads:
        t.start()

    async def rfc6455():
        async with connect(server.url("/echo")) as ws:
            for line in LINES * 5:
                await ws.send(line)
                assert await ws.recv() == line
    asyncio.run(asyncio.wait_for(rfc6455(), TIMEOUT))
    for t in threads:
        t.join(TIMEOUT)
    for name, r in results.items():
        assert r.returncode == 0, (name, r.stderr)
    assert all(results[f"ruby{d}-{i}"].stdout.splitlines() == LINES for d in ("75", "76") for i in range(2))
    assert results["autobahn"].stdout.splitlines() == LINES[:2]


class Interactive:
    """A peer client kept open: lines written to its stdin are sent; what it prints is collected."""

    def __init__(self, args, **kw):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, **kw)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def expect(self, wanted: set, timeout=10.0):
        seen, deadline = set(), time.monotonic() + timeout
        while not wanted <= seen:
            try:
                seen.add(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"wanted {wanted}, saw {seen}; stderr: {self.proc.stderr.read() if self.proc.poll() is not None else '(running)'}")
        return seen

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.proc.returncode


def test_broadcast_reaches_hixie75_hixie76_and_rfc6455_clients(server):
    url = server.url("/broadcast")
    v75 = Interactive(["ruby", str(PEERS / "ruby_client.rb"), url, "75", "http://example.com"])
    v76 = Interactive(["ruby", str(PEERS / "ruby_client.rb"), url, "76", "http://example.com"])
    try:
        # The broadcast includes the sender: a client's own line coming back proves it has joined.
        v75.send("hb-join-75")
        v75.expect({"hb-join-75"})
        v76.send("hb-join-76")
        v76.expect({"hb-join-76"})

        async def go():
            async with connect(url) as ws:
                await ws.send("hb-join-6455")
                while await ws.recv() != "hb-join-6455":
                    pass
                v75.send("hb from 75")
                v76.send("hb from 76 ✓")
                await ws.send("hb from 6455")
                seen = set()
                while not {"hb from 75", "hb from 76 ✓", "hb from 6455"} <= seen:
                    seen.add(await ws.recv())
        asyncio.run(asyncio.wait_for(go(), TIMEOUT))
        for client in (v75, v76):
            client.expect({"hb from 75", "hb from 76 ✓", "hb from 6455"})
    finally:
        assert v75.close() == 0
        assert v76.close() == 0


def start_peer(procs, args, name, env=None) -> int:
    port = free_port()
    p, log = procs.start([*args, port], name, env=env)
    try:
        wait_port(port, p)
    except Exception as e:
        pytest.fail(f"{name} did not start: {e}\n{tail(log)}")
    return port


PEER_SERVERS = {
    "em-websocket": (["ruby", PEERS / "em_echo_server.rb"], None, ("75", "76")),
    "faye": (["node", PEERS / "faye_echo_server.js"], NODE_ENV, ("75", "76")),
    "autobahn": ([AUTOBAHN_PY, PEERS / "autobahn_hixie76_server.py"], None, ("76",)),
}


@pytest.mark.parametrize("name", PEER_SERVERS)
def test_wsgate_client_against_legacy_servers(procs, wsgate_bin, name):
    args, env, drafts = PEER_SERVERS[name]
    port = start_peer(procs, args, f"hixie-{name}", env)
    for draft in drafts:
        r = wsgate_connect(wsgate_bin, f"ws://{HOST}:{port}/echo", draft, LINES, "--origin", "http://example.com")
        assert r.returncode == 0, (draft, r.stderr)
        assert r.stdout.splitlines() == LINES, (draft, r.stderr)
        assert f"connected (hixie{draft})" in r.stderr


def test_wsgate_client_says_why_a_handshake_fails(procs, wsgate_bin):
    """Autobahn's server has no hixie-75: it answers 400, which the client reports rather than hangs on."""
    args, env, _ = PEER_SERVERS["autobahn"]
    port = start_peer(procs, args, "hixie-autobahn-75", env)
    r = wsgate_connect(wsgate_bin, f"ws://{HOST}:{port}/echo", "75", ["x"])
    assert r.returncode != 0
    assert "refused the handshake: HTTP/1.1 400" in r.stderr, r.stderr


def hixie76_request(path, key1, key2, host="127.0.0.1"):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nOrigin: http://example.com\r\n"
            f"Sec-WebSocket-Key1: {key1}\r\nSec-WebSocket-Key2: {key2}\r\n\r\n").encode()


HIXIE75_REQUEST = b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n"


def test_hixie_bad_input(procs, wsgate_bin):
    srv = start_server(procs, wsgate_bin, "wsgate-serve-hixie-bad", "--max-message-size", "4096")

    async def bystander_echo(text):
        async with connect(srv.url("/echo")) as ws:
            await ws.send(text)
            assert await ws.recv() == text

    async def go():
        # A bystander stays connected through all of it and keeps working.
        async with connect(srv.url("/echo")) as bystander:
            # Each offender is hung up on (EOF or reset): raw_exchange says when the connection was left open.
            # Wrong keys: no spaces, a quotient that is not an integer.
            for key1 in ("12345", "1 0 1"):
                reply = raw_exchange(srv.port, hixie76_request("/echo", key1, "2 2") + b"12345678")
                assert reply.data.startswith(b"HTTP/1.1 400 Bad Request\r\n") and reply.closed, reply
            # The draft-76 example keys, key3 in a later segment with the client's closing frame: the correct
            # answer, the server's closing frame, the close.
            reply = raw_exchange(srv.port, hixie76_request("/echo", "4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00"),
                                 b"^n:ds[4U\xff\x00")
            assert reply.data.endswith(b"\r\n\r\n8jKS'y:G*Co,Wxa-\xff\x00") and reply.closed, reply
            # A text frame that never ends: cut off at the limit (76 gets its 0xFF 0x00 first).
            head = hixie76_request("/echo", "4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00") + b"^n:ds[4U"
            reply = raw_exchange(srv.port, head + b"\x00" + b"a" * 10000)
            assert reply.data.endswith(b"8jKS'y:G*Co,Wxa-\xff\x00") and reply.closed, reply
            reply = raw_exchange(srv.port, HIXIE75_REQUEST + b"\x00" + b"a" * 10000)
            assert reply.data.startswith(b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"), reply
            assert reply.data.endswith(b"\r\n\r\n") and reply.closed, reply
            # A length-prefixed frame announcing a gigabyte.
            reply = raw_exchange(srv.port, HIXIE75_REQUEST + b"\x80\x83\xee\xd6\x80\x00")
            assert reply.data.endswith(b"\r\n\r\n") and reply.closed, reply
            # Invalid UTF-8 in a text frame, after a valid one (echoed).
            reply = raw_exchange(srv.port, HIXIE75_REQUEST + b"\x00ok\xff\x00\xc3\x28\xff")
            assert reply.data.endswith(b"\r\n\r\n\x00ok\xff") and reply.closed, reply
            # The control: a valid hixie-75 connection that sent nothing wrong is kept open, silent.
            reply = raw_exchange(srv.port, HIXIE75_REQUEST, timeout=1.5)
            assert reply.data.endswith(b"\r\n\r\n") and not reply.closed, reply
            await bystander.send("still here")
            assert await bystander.recv() == "still here"
        await bystander_echo("and new clients too")

    asyncio.run(asyncio.wait_for(go(), TIMEOUT))
    srv.assert_alive()
    log = srv.log.read_text(errors="replace")
    assert "Sec-WebSocket-Key1 has no spaces" in log
    assert "text frame longer than 4096 bytes" in log
    assert "length-prefixed frame longer than 4096 bytes" in log
    assert "text frame is not valid UTF-8" in log
    Procs.stop(srv.proc)
