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


@pytest.fixture(scope="module", params=[None, "deflate"], ids=["plain", "deflate"])
def py_echo_server(request):
    """A Python websockets echo server, with and without permessage-deflate; remembers the subprotocol
    and the extensions each client got."""
    seen = []
    extensions = []

    def handler(ws):
        seen.append(ws.subprotocol)
        extensions.append(ws.response.headers.get("Sec-WebSocket-Extensions", ""))
        try:
            for m in ws:
                ws.send(m)
        except ConnectionClosed:
            pass

    def pick(conn, offered):  # accept a known subprotocol, but also clients offering none
        return next((p for p in offered if p in ("chat", "superchat")), None)

    port = free_port()
    with serve(handler, HOST, port, select_subprotocol=pick, compression=request.param,
               max_size=16 << 20) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        yield port, seen, extensions, request.param
        srv.shutdown()
    t.join(10)


def run_connect(wsgate_bin, url, *extra, env=None):
    """Use it as a person would: type a line, wait for its echo, and so on; then EOF.
    (Closing stdin at once would let the peer close before echoing everything.)"""
    return connect_session(wsgate_bin, url, *extra, env=env)[0]


def connect_session(wsgate_bin, url, *extra, env=None):
    """run_connect, also returning what `wsgate connect` wrote on stderr."""
    p = subprocess.Popen([str(wsgate_bin), "connect", url, *extra], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
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
    return got + rest.splitlines(), err


def connect_fails(wsgate_bin, url, *extra, env=None) -> str:
    """`wsgate connect` that must fail: returns its stderr (the error a person reads)."""
    p = subprocess.run([str(wsgate_bin), "connect", url, *extra], input="", capture_output=True, text=True,
                       timeout=30, env=env)
    assert p.returncode != 0, f"connected when it should not have: {p.stdout}"
    return p.stderr


def test_connect_to_python_websockets(wsgate_bin, py_echo_server):
    port, seen, extensions, compression = py_echo_server
    lines, err = connect_session(wsgate_bin, f"ws://{HOST}:{port}/")
    assert lines == LINES
    # wsgate offers permessage-deflate by default; websockets accepts it when it has compression on.
    assert extensions[-1].startswith("permessage-deflate") == (compression == "deflate"), extensions[-1]
    assert ("permessage-deflate" in err) == (compression == "deflate"), err


def test_connect_no_compression(wsgate_bin, py_echo_server):
    port, seen, extensions, compression = py_echo_server
    lines, err = connect_session(wsgate_bin, f"ws://{HOST}:{port}/", "--no-compression")
    assert lines == LINES
    assert extensions[-1] == "" and "permessage-deflate" not in err


def test_connect_with_subprotocol(wsgate_bin, py_echo_server):
    port, seen, _, _ = py_echo_server
    assert run_connect(wsgate_bin, f"ws://{HOST}:{port}/", "--subprotocol", "superchat") == LINES
    assert seen[-1] == "superchat"


def test_connect_to_our_server(wsgate_bin, server):
    assert run_connect(wsgate_bin, server.url("/echo")) == LINES


def test_connect_wss_with_ca_file(wsgate_bin, tls_server, pki):
    for host in ("127.0.0.1", "localhost"):
        lines, err = connect_session(wsgate_bin, tls_server.url("/echo", "wss", host), "--ca-file", str(pki.ca))
        assert lines == LINES
        assert "permessage-deflate" in err


def test_connect_wss_untrusted_is_a_clear_error(wsgate_bin, tls_server, pki):
    err = connect_fails(wsgate_bin, tls_server.url("/echo", "wss"), "--ca-file", str(pki.other_ca))
    assert "not trusted" in err and "--ca-file" in err, err
    # --insecure skips the check.
    assert run_connect(wsgate_bin, tls_server.url("/echo", "wss"), "--insecure") == LINES


def test_connect_plain_to_tls_port_is_refused(wsgate_bin, tls_server):
    err = connect_fails(wsgate_bin, tls_server.url("/echo", "ws"))
    assert "400" in err, err
