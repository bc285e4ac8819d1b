"""`wsgate connect` as people use wscat and websocat: piped stdin that waits for replies, one-shot use, binary, hex,
base64 and JSON modes, pings, reconnects, slash commands at a terminal and distinct exit statuses — through the real
binary, against servers no one here wrote: Python `websockets`, gorilla (Go) and websocketd (Debian) running
/bin/cat."""
import base64
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.datastructures import Headers
from websockets.sync.server import serve

from conftest import HOST, LOGS, REPORTS, free_port, wait_port

PEERS = Path(__file__).parent / "peers"


def connect(wsgate_bin, url, *args, stdin="", timeout=30):
    """`wsgate connect` with `stdin` piped in whole (EOF right after, as `echo … |` does); returns the process result.
    A hang fails the test: run() kills it at `timeout`."""
    return subprocess.run([str(wsgate_bin), "connect", url, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


class ThreadServer:
    """A Python `websockets` server in a thread, with the messages it received and each connection's request
    headers and close code."""

    def __init__(self, handler=None, **kw):
        self.received, self.headers, self.close_codes = [], [], []
        self.port = free_port()
        user = handler or (lambda ws, m: ws.send(m))

        def run(ws):
            self.headers.append(dict(ws.request.headers.raw_items()))
            try:
                for m in ws:
                    self.received.append(m)
                    user(ws, m)
            except ConnectionClosed:
                pass
            self.close_codes.append(ws.close_code)

        self.on_open = kw.pop("on_open", None)
        if self.on_open:
            opened, inner = self.on_open, run

            def run(ws):  # noqa: F811 - the handler with a greeting first
                opened(ws)
                inner(ws)

        self.server = serve(run, HOST, self.port, **kw)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"ws://{HOST}:{self.port}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)


# --- piped use -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def websocketd_cat():
    """websocketd (Debian) running /bin/cat: each line a client sends comes back from the program."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / "websocketd-cat.log", "wb")
    p = subprocess.Popen(["websocketd", f"--address={HOST}", f"--port={port}", "/bin/cat"], stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    wait_port(port, p)
    yield f"ws://{HOST}:{port}/"
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(10)


def test_echo_hello_piped_into_connect_prints_the_reply_from_websocketd(wsgate_bin, websocketd_cat):
    """The issue's report: `echo hello | wsgate connect` against websocketd's /bin/cat printed nothing, because the
    close went out at stdin's EOF, before the program answered. Now it lingers for the reply."""
    r = connect(wsgate_bin, websocketd_cat, stdin="hello\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    r = connect(wsgate_bin, websocketd_cat, stdin="one\ntwo\nthree\n")
    assert r.returncode == 0 and r.stdout.splitlines() == ["one", "two", "three"], (r.stdout, r.stderr)


def test_a_reply_later_than_the_linger_is_not_waited_for(wsgate_bin):
    def slow(ws, m):
        time.sleep(1.5)
        ws.send(m)

    with ThreadServer(slow) as server:
        started = time.monotonic()
        short = connect(wsgate_bin, server.url, "--linger", "0.3", stdin="late\n")
        took = time.monotonic() - started
        long = connect(wsgate_bin, server.url, "--linger", "3", stdin="late\n")
    assert short.returncode == 0 and short.stdout == "" and took < 1.5, (short, took)
    assert long.returncode == 0 and long.stdout == "late\n", long


def test_once_sends_one_line_prints_one_reply_and_closes(wsgate_bin):
    with ThreadServer(lambda ws, m: (ws.send(m), ws.send("extra"))) as server:
        r = connect(wsgate_bin, server.url, "-1", stdin="first\nsecond\n")
        time.sleep(0.2)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "first\n"
    assert server.received == ["first"]  # the second line was never sent
    assert server.close_codes == [1000]


def test_max_messages_and_no_close(wsgate_bin):
    def greet(ws):
        for i in range(10):
            ws.send(f"m{i}")

    with ThreadServer(on_open=greet) as server:
        r = connect(wsgate_bin, server.url, "--max-messages", "3", "--no-close")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["m0", "m1", "m2"]

    def talk_then_close(ws):
        time.sleep(1.5)  # longer than the default linger: --no-close must still be reading
        ws.send("after a while")
        ws.close(1000, "done")

    with ThreadServer(on_open=talk_then_close) as server:
        r = connect(wsgate_bin, server.url, "--no-close")
    assert r.returncode == 0 and r.stdout == "after a while\n", (r.stdout, r.stderr)


# --- input and output modes ---------------------------------------------------------------------------------------

def test_binary_hex_and_base64_both_ways(wsgate_bin):
    with ThreadServer() as server:
        r = connect(wsgate_bin, server.url, "--binary", stdin="abc\n")
        assert r.returncode == 0 and r.stdout == "[binary 3 bytes] 616263\n", r
        assert server.received[-1] == b"abc"
        r = connect(wsgate_bin, server.url, "--hex", stdin="00 ff 10\n")
        assert r.returncode == 0 and r.stdout == "00ff10\n", r
        assert server.received[-1] == b"\x00\xff\x10"
        payload = bytes(range(256))
        r = connect(wsgate_bin, server.url, "--base64", stdin=base64.b64encode(payload).decode() + "\n")
        assert r.returncode == 0 and base64.b64decode(r.stdout.strip()) == payload, r
        assert server.received[-1] == payload
        # A bad line is said and skipped; the session goes on.
        r = connect(wsgate_bin, server.url, "--hex", stdin="zz\n01\n")
        assert r.returncode == 0 and r.stdout == "01\n" and "not hex digits: zz" in r.stderr, r


def test_json_output_is_one_object_per_message_then_the_close(wsgate_bin):
    def greet(ws):
        ws.send("héllo")
        ws.send(b"\x00\x01")

    with ThreadServer(on_open=greet) as server:
        r = connect(wsgate_bin, server.url, "--json", "--max-messages", "2")
    assert r.returncode == 0, r.stderr
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["type"] for o in objects] == ["text", "binary", "close"]
    assert objects[0]["text"] == "héllo" and objects[0]["size"] == len("héllo".encode())
    assert base64.b64decode(objects[1]["base64"]) == b"\x00\x01" and objects[1]["size"] == 2
    assert objects[2]["code"] == 1000 and objects[2]["clean"] is True
    for o in objects:  # ISO 8601 with milliseconds, UTC
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o


def test_timestamps_header_short_form_and_max_message_size(wsgate_bin):
    with ThreadServer() as server:
        r = connect(wsgate_bin, server.url, "--timestamps", "-H", "X-Test: one", "--header", "X-Other: two",
                    stdin="hi\n")
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z hi\n", r.stdout), r.stdout
        assert server.headers[-1]["X-Test"] == "one" and server.headers[-1]["X-Other"] == "two"
        r = connect(wsgate_bin, server.url, "--max-message-size", "10", stdin="x" * 100 + "\n")
    assert r.returncode == 1 and "1009" in r.stderr, (r.returncode, r.stderr)
    assert server.close_codes[-1] == 1009


# --- keep-alive ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gorilla_peer():
    """tests/interop/peers/gorilla built with Debian's Go and gorilla/websocket; its stdout logs what it saw."""
    if not shutil.which("go"):
        pytest.fail("go is not installed: run scripts/install-test-deps.sh")
    out = REPORTS / "gorilla-peer"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH=f"{out / 'gopath'}:/usr/share/gocode", GOCACHE=str(out / "cache"),
               GOFLAGS="")
    subprocess.run(["go", "build", "-o", str(out / "gorilla-peer"), "."], cwd=PEERS / "gorilla", env=env, check=True,
                   capture_output=True, timeout=600)
    port = free_port()
    log_path = out / "peer.log"
    log = open(log_path, "wb")
    p = subprocess.Popen([str(out / "gorilla-peer"), "-addr", f"{HOST}:{port}"], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    wait_port(port, p)
    yield port, log_path
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(10)


def test_ping_interval_is_seen_as_pings_by_gorilla_and_show_ping_prints_round_trips(wsgate_bin, gorilla_peer):
    port, log = gorilla_peer
    before = log.read_text().count("ping ")
    p = subprocess.Popen([str(wsgate_bin), "connect", f"ws://{HOST}:{port}/echo", "--ping-interval", "0.2",
                          "--show-ping", "--no-close"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=10)
    pings = log.read_text().count("ping ") - before
    assert 4 <= pings <= 9, (pings, err)  # one every 0.2 s for 1.5 s
    rtts = re.findall(r"pong: 8 bytes, round trip ([0-9.]+) ms", err)
    assert len(rtts) >= 4 and all(float(x) < 100 for x in rtts), err


def test_a_peer_that_never_answers_pings_is_dropped_after_the_ping_timeout(wsgate_bin, gorilla_peer):
    port, _ = gorilla_peer
    started = time.monotonic()
    r = connect(wsgate_bin, f"ws://{HOST}:{port}/silent", "--ping-interval", "0.3", "--ping-timeout", "1", "--no-close")
    took = time.monotonic() - started
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "no pong within" in r.stderr
    assert took < 10, took  # 1.3 s to notice, then at most the close timeout (5 s)


# --- reconnect ----------------------------------------------------------------------------------------------------

ECHO_SERVER = textwrap.dedent("""
    import sys
    from websockets.sync.server import serve
    log = open(sys.argv[2], "a", buffering=1)
    def handler(ws):
        for m in ws:
            log.write(m + "\\n")
            ws.send(m)
    with serve(handler, "127.0.0.1", int(sys.argv[1])) as s:
        print("ready", flush=True)
        s.serve_forever()
""")


def test_reconnect_after_the_server_is_killed_and_restarted_sends_nothing_twice(wsgate_bin, tmp_path):
    port = free_port()
    script = tmp_path / "echo.py"
    script.write_text(ECHO_SERVER)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]

    def start(log):
        p = subprocess.Popen([sys.executable, str(script), str(port), str(log)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p

    server = start(logs[0])
    client = subprocess.Popen([str(wsgate_bin), "connect", f"ws://{HOST}:{port}/", "--reconnect",
                               "--reconnect-max-delay", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(40, client.kill)
    watchdog.start()
    try:
        client.stdin.write("one\n")
        client.stdin.flush()
        assert client.stdout.readline() == "one\n"
        server.kill()
        server.wait()
        time.sleep(1.5)  # the client notices and retries against a closed port
        server = start(logs[1])
        client.stdin.write("two\n")
        client.stdin.flush()
        assert client.stdout.readline() == "two\n"
        client.stdin.close()
        assert client.wait(15) == 0
    finally:
        watchdog.cancel()
        client.kill()
        server.kill()
    err = client.stderr.read()
    assert "connection lost" in err, err
    assert logs[0].read_text().splitlines() == ["one"]
    assert logs[1].read_text().splitlines() == ["two"]  # nothing sent twice


# --- exit statuses ------------------------------------------------------------------------------------------------

def test_exit_statuses_tell_clean_unclean_refused_and_unreachable_apart(wsgate_bin):
    with ThreadServer() as server:
        assert connect(wsgate_bin, server.url, stdin="hi\n").returncode == 0

    with ThreadServer(lambda ws, m: ws.close(1011, "broken")) as server:
        r = connect(wsgate_bin, server.url, stdin="hi\n")
    assert r.returncode == 1 and "1011 broken" in r.stderr, (r.returncode, r.stderr)

    def refuse(connection, request):
        return Response(403, "Forbidden", Headers([("Content-Type", "text/plain"), ("Content-Length", "9")]), b"go away\n\n")

    with ThreadServer(process_request=refuse) as server:
        r = connect(wsgate_bin, server.url, stdin="hi\n")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "403 Forbidden" in r.stderr and "go away" in r.stderr, r.stderr

    r = connect(wsgate_bin, f"ws://{HOST}:{free_port()}/", stdin="hi\n")
    assert r.returncode == 3 and "cannot connect" in r.stderr, (r.returncode, r.stderr)


# --- a terminal -----------------------------------------------------------------------------------------------------

def test_slash_commands_when_stdin_is_a_terminal(wsgate_bin, gorilla_peer):
    port, log = gorilla_peer
    before = log.read_text()
    leader, follower = pty.openpty()
    p = subprocess.Popen([str(wsgate_bin), "connect", f"ws://{HOST}:{port}/echo", "--show-ping"], stdin=follower,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(follower)
    try:
        time.sleep(1)
        for line in ["/ping hello", "/binary 0102ff", "//slash", "/bogus", "/close 4000 bye"]:
            os.write(leader, (line + "\n").encode())
            time.sleep(0.3)
        out, err = p.communicate(timeout=15)
    finally:
        p.kill()
        os.close(leader)
    seen = log.read_text()[len(before):]
    assert f"ping {b'hello'.hex()}" in seen, seen
    assert "binary 0102ff" in seen and "text /slash" in seen, seen
    assert "close 4000 bye" in seen, seen
    assert "unknown command /bogus" in err, err
    assert "pong: 5 bytes" in err, err
    assert "[binary 3 bytes] 0102ff" in out and "/slash" in out, out
    assert p.returncode == 1  # closed with 4000: not a clean 1000
