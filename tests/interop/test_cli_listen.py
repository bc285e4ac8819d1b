"""`wsgate listen --port P` (wscat -l, websocat -s): an ad-hoc server that prints what clients send and sends each
stdin line to every client connected — tried with Python `websockets` clients."""
import json
import signal
import subprocess
import threading
import time

from websockets.sync.client import connect

from conftest import HOST, free_port, wait_port


def start_listen(wsgate_bin, *args):
    port = free_port()
    p = subprocess.Popen([str(wsgate_bin), "listen", "--port", str(port), *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_port(port, p)
    return p, port


def read_line(stream, timeout=10):
    """One line from `stream`, or fail after `timeout` (a silent server must not hang the test)."""
    got = []
    t = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    assert got, f"no line within {timeout} s"
    return got[0]


def test_listen_prints_what_clients_send_and_sends_stdin_to_every_client(wsgate_bin):
    p, port = start_listen(wsgate_bin)
    try:
        with connect(f"ws://{HOST}:{port}/one") as a, connect(f"ws://{HOST}:{port}/two/deeper") as b:
            a.send("from a")
            assert read_line(p.stdout) == "from a\n"
            b.send(b"\x01\x02")
            assert read_line(p.stdout) == "[binary 2 bytes] 0102\n"
            time.sleep(0.2)
            p.stdin.write("to everyone\n")
            p.stdin.flush()
            assert a.recv(timeout=5) == "to everyone"
            assert b.recv(timeout=5) == "to everyone"
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
        err = p.stderr.read()
        assert "client 1 connected" in err and "path /one" in err and "path /two/deeper" in err, err
        assert "client 1 disconnected (1000" in err, err
    finally:
        p.kill()


def test_listen_json_and_sigterm_closes_clients_with_1001(wsgate_bin):
    p, port = start_listen(wsgate_bin, "--json")
    try:
        with connect(f"ws://{HOST}:{port}/") as c:
            c.send("hé")
            o = json.loads(read_line(p.stdout))
            assert o["client"] == 1 and o["type"] == "text" and o["text"] == "hé" and o["size"] == 3, o
            p.send_signal(signal.SIGTERM)
            try:
                c.recv(timeout=10)
                raise AssertionError("expected the close")
            except Exception as e:  # ConnectionClosedOK with the server's code
                assert getattr(e, "rcvd", None) is not None and e.rcvd.code == 1001, e
        assert p.wait(15) == 0
    finally:
        p.kill()


def test_listen_base64_input_and_a_line_with_no_client(wsgate_bin):
    p, port = start_listen(wsgate_bin, "--base64")
    try:
        assert read_line(p.stderr).startswith("listening on ")
        p.stdin.write("AAEC\n")  # nobody connected yet
        p.stdin.flush()
        assert "no client connected" in read_line(p.stderr)
        with connect(f"ws://{HOST}:{port}/") as c:
            time.sleep(0.2)
            p.stdin.write("AAEC\n")
            p.stdin.flush()
            assert c.recv(timeout=5) == b"\x00\x01\x02"
            c.send(b"\xff")
            assert read_line(p.stdout) == "/w==\n"
    finally:
        p.kill()
