"""`wsgate connect URL`: our CLIENT against a server no one here wrote (Python
`websockets`), and against our own server. stdin lines go out as text messages;
each message received is printed on its own line; exit 0 after EOF + clean close."""
import subprocess
import threading

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from conftest import HOST, free_port

LINES = ["hello", "héllo wörld 😀", "x" * 70000, "last"]


@pytest.fixture(scope="module")
def py_echo_server():
    """A Python websockets echo server; remembers the subprotocol each client got."""
    seen = []

    def handler(ws):
        seen.append(ws.subprotocol)
        try:
            for m in ws:
                ws.send(m)
        except ConnectionClosed:
            pass

    def pick(conn, offered):  # accept a known subprotocol, but also clients offering none
        return next((p for p in offered if p in ("chat", "superchat")), None)

    port = free_port()
    with serve(handler, HOST, port, select_subprotocol=pick, compression=None,
               max_size=16 << 20) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        yield port, seen
        srv.shutdown()
    t.join(10)


def run_connect(wsgate_bin, url, *extra):
    """Use it as a person would: type a line, wait for its echo, and so on; then EOF.
    (Closing stdin at once would let the peer close before echoing everything.)"""
    p = subprocess.Popen([str(wsgate_bin), "connect", url, *extra], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(30, p.kill)  # a hang fails the test instead of the run
    watchdog.start()
    got, rest = [], ""
    try:
        for line in LINES:
            p.stdin.write(line + "\n")
            p.stdin.flush()
            got.append(p.stdout.readline().rstrip("\n"))
        p.stdin.close()
        rest = p.stdout.read()  # nothing more expected; read to EOF = process ended
    except OSError:  # the watchdog killed it: report below
        pass
    finally:
        rc = p.wait()
        watchdog.cancel()
    err = p.stderr.read()
    short = [g if len(g) < 80 else f"<{len(g)} chars>" for g in got]
    assert rc == 0, f"exit {rc} (-9: hung for 30 s) after echoes {short}; stderr:\n{err[-3000:]}"
    return got + rest.splitlines()


def test_connect_to_python_websockets(wsgate_bin, py_echo_server):
    port, seen = py_echo_server
    assert run_connect(wsgate_bin, f"ws://{HOST}:{port}/") == LINES


def test_connect_with_subprotocol(wsgate_bin, py_echo_server):
    port, seen = py_echo_server
    assert run_connect(wsgate_bin, f"ws://{HOST}:{port}/", "--subprotocol", "superchat") == LINES
    assert seen[-1] == "superchat"


def test_connect_to_our_server(wsgate_bin, server):
    assert run_connect(wsgate_bin, server.url("/echo")) == LINES
