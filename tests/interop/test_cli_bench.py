"""`wsgate bench`: the load generator against our server and against a server no one here
wrote (Python `websockets`), checking that its JSON report counts what really happened."""
import json
import subprocess
import threading

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from conftest import HOST, free_port

KEYS = {"messages_per_second", "bytes_per_second", "latency_p50_us", "latency_p99_us",
        "latency_p999_us", "connections", "errors"}


def bench(wsgate_bin, url, *args):
    out = subprocess.run([str(wsgate_bin), "bench", "--url", url, "--json", "--warmup", "0.2",
                          "--duration", "1", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "msg/s" in out.stderr  # progress goes to stderr, the report alone to stdout
    return json.loads(out.stdout)


@pytest.mark.parametrize("extra", [[], ["--binary", "--size", "70000"]], ids=["text-64B", "binary-70KB"])
def test_echo_against_our_server(wsgate_bin, server, extra):
    r = bench(wsgate_bin, server.url("/echo"), "--connections", "4", "--pipeline", "4", *extra)
    assert KEYS <= r.keys()
    assert r["errors"] == 0 and r["connections_established"] == 4
    assert r["messages"] > 100
    assert r["bytes_per_second"] == pytest.approx(r["messages_per_second"] * r["size"], rel=0.01)
    assert 0 < r["latency_p50_us"] <= r["latency_p99_us"] <= r["latency_p999_us"] <= r["latency_max_us"]


def test_handshake_mode_counts_real_handshakes(wsgate_bin, server):
    r = bench(wsgate_bin, server.url("/echo"), "--mode", "handshake", "--connections", "2")
    assert r["errors"] == 0 and r["handshakes"] > 10
    assert r["handshakes_per_second"] == pytest.approx(r["handshakes"] / r["duration_s"], rel=0.01)


def test_echo_against_python_websockets(wsgate_bin):
    received = []

    def handler(ws):
        try:
            for m in ws:
                received.append(len(m))
                ws.send(m)
        except ConnectionClosed:
            pass

    port = free_port()
    with serve(handler, HOST, port, compression=None) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        r = bench(wsgate_bin, f"ws://{HOST}:{port}/", "--connections", "2", "--size", "100")
        srv.shutdown()
    t.join(10)
    assert r["errors"] == 0 and r["messages"] > 10
    # The server saw at least every message the generator counted (plus warm-up and in-flight ones).
    assert len(received) >= r["messages"] and set(received) == {100}
