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
def python_websockets_echo(ssl_context=None, compression=None, negotiated=None):
    """A Python `websockets` echo server on a free port (no compression unless asked; wss:// with `ssl_context`):
    yields its URL and the sizes it received; `negotiated` gets each connection's Sec-WebSocket-Extensions answer."""
    received = []

    def handler(ws):
        if negotiated is not None:
            negotiated.append(ws.response.headers.get("Sec-WebSocket-Extensions", ""))
        try:
            for m in ws:
                received.append(len(m))
                ws.send(m)
        except ConnectionClosed:
            pass

    port = free_port()
    with serve(handler, HOST, port, compression=compression, ssl=ssl_context) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            yield f"{'wss' if ssl_context else 'ws'}://{HOST}:{port}/", received
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


def server_tls_context(pki):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.cert), str(pki.key))
    return ctx


def test_echo_over_wss_trusts_the_ca_file_and_nothing_else(wsgate_bin, pki):
    """wss:// against Python websockets behind Python's ssl, with a certificate openssl made: `--ca-file` verifies it,
    `--insecure` skips the check, and without either (or with a CA that did not sign it) no connection opens and
    the reason is said."""
    with python_websockets_echo(ssl_context=server_tls_context(pki)) as (url, received):
        r = bench(wsgate_bin, url, "--connections", "2", "--size", "100", "--ca-file", str(pki.ca))
        assert r["errors"] == 0 and r["connections_established"] == 2 and r["messages"] > 10
        assert len(received) >= r["messages"] and set(received) == {100}
        r = bench(wsgate_bin, url, "--connections", "1", "--insecure")
        assert r["errors"] == 0 and r["messages"] > 10
        for trust in ([], ["--ca-file", str(pki.other_ca)]):
            out = subprocess.run([str(wsgate_bin), "bench", "--url", url, "--json", "--warmup", "0", "--duration", "0.5",
                                  "--connections", "2", *trust], capture_output=True, text=True, timeout=60)
            r = json.loads(out.stdout)
            assert r["connections_established"] == 0 and r["messages"] == 0 and r["errors"] == 2, r
            assert "0 connections open, 2 failed (the first:" in out.stderr and "not trusted" in out.stderr, out.stderr


def test_flood_refuses_wss_clearly(wsgate_bin):
    out = subprocess.run([str(wsgate_bin), "bench", "--url", "wss://127.0.0.1:9/echo", "--mode", "flood"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "--mode flood speaks ws:// only" in out.stderr


def test_chat_payload_with_compression_against_python_websockets(wsgate_bin):
    """`--payload chat --compression` negotiates permessage-deflate with a third-party server and the messages it
    receives are the corpus's JSON of 100 B - 2 KiB, inflated by Python's zlib."""
    negotiated = []
    with python_websockets_echo(compression="deflate", negotiated=negotiated) as (url, received):
        r = bench(wsgate_bin, url, "--connections", "2", "--pipeline", "4", "--payload", "chat", "--compression")
    assert r["errors"] == 0 and r["messages"] > 10
    assert len(negotiated) >= 2 and all(n.startswith("permessage-deflate") for n in negotiated), negotiated
    # Sizes are drawn from 100 B - 2 KiB and filled word by word, so the last word may pass 2 KiB by a few bytes.
    assert len(received) >= r["messages"] and 100 <= min(received) and max(received) <= 2048 + 16


def test_flood_with_compression_sends_what_python_zlib_inflates_to_the_corpus(wsgate_bin):
    """Flood mode with `--payload chat --compression`: the frames it compressed once, before the flood, are
    permessage-deflate messages Python `websockets` (Python's zlib) inflates to the corpus's JSON, and the echoes it
    counts are the server's compressed ones."""
    negotiated = []
    with python_websockets_echo(compression="deflate", negotiated=negotiated) as (url, received):
        r = bench(wsgate_bin, url, "--mode", "flood", "--connections", "2", "--payload", "chat", "--compression")
    assert r["errors"] == 0 and r["connections_established"] == 2 and r["messages"] > 10
    assert all("permessage-deflate" in n and "client_no_context_takeover" in n for n in negotiated), negotiated
    assert len(received) >= r["messages"] and 100 <= min(received) and max(received) <= 2048 + 16
    # Compressed echoes: fewer bytes per message on the wire than the JSON the server received (mean ~660 B).
    assert r["bytes_per_second"] / r["messages_per_second"] < 0.8 * sum(received) / len(received)


def test_flood_with_compression_refuses_a_server_without_it(wsgate_bin):
    with python_websockets_echo() as (url, received):
        out = subprocess.run([str(wsgate_bin), "bench", "--url", url, "--json", "--mode", "flood", "--warmup", "0",
                              "--duration", "1", "--connections", "2", "--payload", "chat", "--compression"],
                             capture_output=True, text=True, timeout=60)
    r = json.loads(out.stdout)
    assert r["errors"] == 2 and r["messages"] == 0 and received == [], (r, received)
    assert "the server did not accept permessage-deflate" in out.stderr, out.stderr


def test_the_chat_corpus_is_the_one_ratio_py_generates_from_its_description(wsgate_bin):
    """`--payload chat` sends `ChatCorpus`; Benchmarks/compression/ratio.py generates the corpus again in Python from
    its description (SplitMix64, the same fields and word lists) to compute compression ratios with Python's zlib.
    The two must be the same 1,024 messages, byte for byte, or the ratios would be of other traffic."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Benchmarks" / "compression"))
    import ratio
    received = []

    def handler(ws):
        try:
            for m in ws:
                received.append(m.encode() if isinstance(m, str) else m)
                ws.send(m)
        except ConnectionClosed:
            pass

    port = free_port()
    with serve(handler, HOST, port, compression=None, max_size=1 << 20) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            r = bench(wsgate_bin, f"ws://{HOST}:{port}/", "--mode", "idle", "--connections", "1", "--payload", "chat",
                      "--idle-messages", "1024")
        finally:
            srv.shutdown()
            t.join(10)
    assert r["errors"] == 0
    # One connection sends each of the 1,024 once, from a random starting point.
    assert sorted(received) == sorted(ratio.messages(1024))
