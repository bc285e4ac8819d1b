"""`wsgate bench`: the load generator against our server and against a server no one here
wrote (Python `websockets`), checking that its JSON report counts what really happened."""
import contextlib
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


@contextlib.contextmanager
def python_websockets_echo():
    """A Python `websockets` echo server (no compression) on a free port: yields its URL and the sizes it received."""
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
        try:
            yield f"ws://{HOST}:{port}/", received
        finally:
            srv.shutdown()
            t.join(10)


def test_echo_against_python_websockets(wsgate_bin):
    with python_websockets_echo() as (url, received):
        r = bench(wsgate_bin, url, "--connections", "2", "--size", "100")
    assert r["errors"] == 0 and r["messages"] > 10
    # The server saw at least every message the generator counted (plus warm-up and in-flight ones).
    assert len(received) >= r["messages"] and set(received) == {100}


def run_json(wsgate_bin, *args, timeout=60):
    out = subprocess.run([str(wsgate_bin), "bench", "--json", *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_broadcast_mode_keeps_its_rate_and_counts_what_a_third_party_subscriber_sees(wsgate_bin, server):
    """Open loop at 3000 msg/s from 2 publishers: the report's `published` is the offered rate over the window, and
    a Python `websockets` subscriber on the same topic — not the generator — received exactly that many messages
    stamped as counted (the flag in bytes 4-7 of the 24-byte header), each publisher's numbers rising."""
    import struct
    from websockets.sync.client import connect

    got, stop = [], threading.Event()
    ws = connect(server.url("/broadcast/bench-rate"), compression=None)

    def listen():
        try:
            while not stop.is_set():
                try:
                    got.append(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
        except ConnectionClosed:
            pass

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    r = run_json(wsgate_bin, "--mode", "broadcast", "--url", server.url("/broadcast/bench-rate"), "--publishers", "2",
                 "--connections", "3", "--rate", "3000", "--duration", "2", "--warmup", "0.5")
    stop.set()
    t.join(5)
    ws.close()
    assert r["lost"] == 0 and r["errors"] == 0, r
    assert r["published"] == pytest.approx(3000 * r["duration_s"], rel=0.05), r
    counted = [struct.unpack(">IIQQ", m[:24]) for m in got if struct.unpack(">I", m[4:8])[0] == 1]
    assert len(counted) == r["published"], (len(counted), r)
    for publisher in (0, 1):
        seqs = [seq for (p, _, seq, _) in counted if p == publisher]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_msrp_open_loop_offers_the_rate_asked(wsgate_bin, procs):
    """`--mode msrp --rate`: SENDs go out on a schedule through the relay's WebSocket leg to receivers on its TCP
    leg; the report's achieved rate is the one offered (the relay keeps up at 400/s) and says it was open loop."""
    from conftest import start_server
    msrp_port = free_port()
    s = start_server(procs, wsgate_bin, "bench-msrp-open", "--msrp-port", str(msrp_port))
    try:
        r = run_json(wsgate_bin, "--mode", "msrp", "--url", s.url("/msrp"),
                     "--msrp-receiver", f"msrp://{HOST}:{msrp_port};tcp", "--connections", "4", "--rate", "400",
                     "--duration", "2", "--warmup", "0.5", "--size", "200")
    finally:
        procs.stop(s.proc)
    assert r["errors"] == 0, r
    assert r["rate"] == 400 and r["pipeline"] == 0, r
    assert r["messages_per_second"] == pytest.approx(400, rel=0.05), r
    assert 0 < r["latency_p50_us"] <= r["latency_p99_us"] <= r["latency_max_us"], r


@pytest.mark.parametrize("size,extra,frame", [(64, [], 66), (70000, ["--binary"], 70010)], ids=["text-64B", "binary-70KB"])
def test_flood_counts_the_frames_echoed(wsgate_bin, server, size, extra, frame):
    """Flood mode counts echoes by walking frame headers across reads: every echoed frame is `frame` bytes (header
    + payload), so bytes and messages must agree, and the generator reports its own CPU."""
    r = bench(wsgate_bin, server.url("/echo"), "--mode", "flood", "--connections", "4", "--size", str(size), *extra)
    assert r["errors"] == 0 and r["connections_established"] == 4
    assert r["messages"] > 100
    # Up to one partial frame per connection at each end of the window.
    assert abs(r["bytes_per_second"] * r["duration_s"] - r["messages"] * frame) <= 8 * frame
    assert r["generator_cpu_cores"] > 0


def test_flood_against_python_websockets(wsgate_bin):
    with python_websockets_echo() as (url, received):
        r = bench(wsgate_bin, url, "--mode", "flood", "--connections", "2", "--size", "100")
    assert r["errors"] == 0 and r["messages"] > 10
    # Every message counted was echoed by the server, so it received at least as many, all of 100 bytes.
    assert len(received) >= r["messages"] and set(received) == {100}
