"""WebSocket over RTMP (WSR) with real RTMP peers: librtmp (the C library of rtmpdump and ffmpeg, through Debian's
python3-librtmp) as a WSR client of `wsgate serve`; the wsgate RTMP client publishing to nginx-rtmp; ffmpeg and
rtmpdump pointed at the gateway without a session, which must get a clear refusal rather than a hang."""
import asyncio
import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from conftest import HOST, LOGS, free_port, tail, wait_port

PEER = Path(__file__).parent / "peers" / "rtmp" / "librtmp_wsr.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # where python3-librtmp installs
TIMEOUT = 30


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def librtmp_peer(*args) -> subprocess.Popen:
    return subprocess.Popen([SYSTEM_PYTHON, str(PEER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_librtmp_plays_a_wsr_session_and_receives_a_broadcast(server):
    """create, connect with the tcUrl, createStream, play — librtmp's own code for all of it — then messages an
    RFC 6455 client sends to the broadcast arrive as WSR data messages, text as AMF3 String, binary as ByteArray."""
    sent = ["from RFC 6455", b"\x00\x01binary\xff", "drei: \u00fc\u00f6\u00e4 \U0001F600"]
    peer = librtmp_peer("receive", f"http://{HOST}:{server.port}/broadcast", str(len(sent)))
    try:
        first = [json.loads(peer.stdout.readline()) for _ in range(2)]
        assert first[0]["event"] == "created" and re.fullmatch(
            rf"rtmp://{HOST}:{server.port}/broadcast/[A-Za-z0-9]{{32}}", first[0]["url"]), first
        assert first[1] == {"event": "playing"}, first

        async def go():
            async with connect(server.url("/broadcast"), open_timeout=TIMEOUT) as ws:
                for message in sent:
                    await ws.send(message)
                    await asyncio.sleep(0.05)  # in order, whatever the broadcast's fan-out

        run(go())
        out, err = peer.communicate(timeout=TIMEOUT)
    finally:
        peer.kill()
    assert peer.returncode == 0, err
    assert events(out) == [{"text": isinstance(m, str), "hex": (m.encode() if isinstance(m, str) else m).hex()}
                           for m in sent]


def test_librtmp_publishes_and_the_echo_comes_back(server):
    """After playing, the librtmp peer creates a second stream, publishes on it and sends data messages at
    librtmp's chunk size 128 (70,000 bytes = 547 chunks); /echo answers each on the play stream."""
    messages = ["hello", "gr\u00f6\u00dfer", "x" * 70_000]
    proc = subprocess.run([SYSTEM_PYTHON, str(PEER), "echo", f"http://{HOST}:{server.port}/echo", *messages],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    got = events(proc.stdout)
    assert got[1] == {"event": "playing"} and got[2]["event"] == "publish stream", got[:3]
    assert got[3:] == [{"text": False, "hex": m.encode().hex()} for m in messages]


def test_rtmp_tools_without_a_session_are_refused_clearly(server):
    """ffmpeg (playing and publishing) and rtmpdump connect with a tcUrl no create issued: the gateway answers
    `_error` NetConnection.Connect.Rejected saying how to create a session, closes, and logs it; each tool exits
    with an error at once instead of hanging."""
    base = f"rtmp://{HOST}:{server.port}/echo/no-such-session"
    tools = {
        "ffmpeg play": ["ffmpeg", "-hide_banner", "-nostdin", "-i", base, "-f", "null", "-"],
        "ffmpeg publish": ["ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "sine=duration=1",
                           "-f", "flv", base],
        "rtmpdump": ["rtmpdump", "-r", base, "--live", "-o", "/dev/null"],
    }
    before = server.log.read_text(errors="replace").count("WSR session refused")
    for name, command in tools.items():
        start = time.monotonic()
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, (name, output)
        assert time.monotonic() - start < 10, (name, output)
        if name.startswith("ffmpeg"):  # ffmpeg prints the server's description
            assert f"no WSR session was created for tcUrl rtmp://{HOST}:{server.port}/echo" in output, output
            assert "/;e/cr" in output, output
        else:  # rtmpdump only says that an error came
            assert "rtmp server sent error" in output, output
    log = server.log.read_text(errors="replace")
    assert log.count("WSR session refused") - before == len(tools), tail(server.log)

    async def still_serving():
        async with connect(server.url("/echo"), open_timeout=TIMEOUT) as ws:
            await ws.send("still here")
            assert await ws.recv() == "still here"

    run(still_serving())


class NginxRTMP:
    """nginx with the nginx-rtmp module (Debian's libnginx-mod-rtmp), one `live` application and its XML
    statistics page, started in a private directory."""

    def __init__(self, procs, directory: Path):
        self.dir = directory
        self.rtmp_port, self.http_port = free_port(), free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.error_log = directory / "error.log"
        conf = directory / "nginx.conf"
        temp = " ".join(f"{k}_temp_path {directory};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf.write_text(f"""
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
error_log {self.error_log} info;
pid {directory}/nginx.pid;
events {{ worker_connections 64; }}
rtmp {{ server {{ listen {HOST}:{self.rtmp_port}; chunk_size 4096;
    application live {{ live on; record off; }} }} }}
http {{ access_log off; {temp}
    server {{ listen {HOST}:{self.http_port}; location /stat {{ rtmp_stat all; }} }} }}
""")
        self.proc, self.log = procs.start(["nginx", "-c", conf, "-p", directory], "nginx-rtmp")
        wait_port(self.rtmp_port, self.proc)
        wait_port(self.http_port, self.proc)

    def stat(self) -> str:
        with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/stat", timeout=5) as r:
            return r.read().decode()

    def stream(self, name: str) -> str | None:
        """The <stream> element of `name`, if nginx has it."""
        for block in re.findall(r"<stream>.*?</stream>", self.stat(), re.S):
            if f"<name>{name}</name>" in block:
                return block
        return None

    def bytes_in(self) -> int:
        """Bytes nginx received on all its RTMP connections (the server-wide counter)."""
        return int(re.search(r"<bytes_in>(\d+)</bytes_in>", self.stat()).group(1))


def wait_for(predicate, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_wsgate_client_publishes_to_nginx_rtmp(procs, wsgate_bin, tmp_path):
    """`wsgate connect rtmp://…/live/wsgate`: the RTMP client connects to nginx-rtmp (app `live`), creates a
    stream and publishes `wsgate`; nginx lists it as the stream's publisher, takes every message line sent
    (its byte counter grows by at least their size), and the stream ends when the client closes."""
    nginx = NginxRTMP(procs, tmp_path / "nginx")
    url = f"rtmp://{HOST}:{nginx.rtmp_port}/live/wsgate"
    LOGS.mkdir(parents=True, exist_ok=True)
    client_log = LOGS / "wsgate-connect-nginx-rtmp.log"
    with open(client_log, "wb") as log:
        client = subprocess.Popen([str(wsgate_bin), "connect", url], stdin=subprocess.PIPE, stdout=log,
                                  stderr=subprocess.STDOUT)
    procs.procs.append(client)
    stream = wait_for(lambda: nginx.stream("wsgate"), "nginx to list stream wsgate")
    assert "<publishing/>" in stream, stream
    assert re.search(r"publish: name='wsgate' args='' type=live", nginx.error_log.read_text()), tail(nginx.error_log)

    before = nginx.bytes_in()
    lines = [f"message {i} " + "x" * 1000 for i in range(20)]
    client.stdin.write("".join(line + "\n" for line in lines).encode())
    client.stdin.flush()
    sent = sum(len(line) for line in lines)
    wait_for(lambda: nginx.bytes_in() - before >= sent, f"nginx to receive {sent} bytes")
    assert client.poll() is None, tail(client_log)  # nginx kept the publisher: the data messages were acceptable

    client.stdin.close()  # end of input: the client closes (WSR: by closing TCP)
    assert client.wait(TIMEOUT) == 0, tail(client_log)
    wait_for(lambda: nginx.stream("wsgate") is None, "the stream to end")
    assert "connected (wsr)" in client_log.read_text(), tail(client_log)


def test_wsr_over_tls(tls_server, wsgate_bin, pki):
    """rtmps: on a TLS listener the create answers `rtmps://` and RTMP is recognised inside TLS. The wsgate client
    (`wsr+ssl://`) echoes through it; ffmpeg's own RTMPS client reaches the session logic and gets the refusal.
    (librtmp's rtmps fails its handshake against any TLS server here, openssl s_server included, so it is not
    used for this.)"""
    proc = subprocess.run([str(wsgate_bin), "connect", f"wsr+ssl://{HOST}:{tls_server.port}/echo", "--ca-file",
                           str(pki.ca)], input="over rtmps\n", capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "over rtmps\n" and "connected (wsr)" in proc.stderr, (proc.stdout, proc.stderr)

    request = urllib.request.Request(f"https://{HOST}:{tls_server.port}/echo/;e/cr", method="POST", data=b"",
                                     headers={"X-WebSocket-Version": "wsr-1.0"})
    with urllib.request.urlopen(request, context=pki.client_context(), timeout=TIMEOUT) as response:
        assert response.status == 201
        assert re.fullmatch(rf"rtmps://{HOST}:{tls_server.port}/echo/[A-Za-z0-9]{{32}}", response.read().decode())

    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", f"rtmps://{HOST}:{tls_server.port}/echo/x",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert f"no WSR session was created for tcUrl rtmps://{HOST}:{tls_server.port}/echo" in proc.stderr, proc.stderr


def test_gateway_answers_rtmp_pings_and_acknowledges_windows(server):
    """Protocol control an RTMP peer owes the other side (Adobe's RTMP spec §5.4, §6.2): a Ping Request gets its
    Ping Response with the same timestamp, and after the client set a window with Window Acknowledgement Size,
    the gateway acknowledges each window's worth of bytes (the count it has received)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "rtmp"))
    import rtmpraw as rr

    session = rr.Session(server.port)
    try:
        session.send(rr.chunk(2, 4, bytes.fromhex("0006") + (0x12345678).to_bytes(4, "big")))  # User Control 6
        pong = session.recv_until(lambda m: m.type_id == 4)
        assert (pong.csid, pong.msid, pong.payload) == (2, 0, bytes.fromhex("0007") + (0x12345678).to_bytes(4, "big"))

        session.send(rr.chunk(2, 5, (1000).to_bytes(4, "big")))  # Window Acknowledgement Size 1000
        for i in range(3):  # ~3.7 KB of data messages
            session.send_data(bytes([i]) * 1200)
        echoes, acks = [], []
        while len(echoes) < 3 or not acks:
            m = session.recv_message()
            if m.type_id == 15:
                echoes.append(rr.wsr_payload(m.payload))
            elif m.type_id == 3:
                assert m.csid == 2, m
                acks.append(int.from_bytes(m.payload, "big"))
        assert echoes == [bytes([i]) * 1200 for i in range(3)]
        assert 1000 <= acks[0] and acks == sorted(acks) and len(acks) <= 4, acks
    finally:
        session.close()


KAAZING_LIKE = Path(__file__).parent / "peers" / "rtmp" / "kaazing_like_server.py"
WSR_SUPPORTED_TYPES = {1, 3, 4, 5, 6, 15, 17, 18, 20}  # wsr.md §3: the gateway closed on any other type


def kaazing_like_lines(count: int = 50, largest: int = 100_000) -> list[str]:
    """`count` stdin lines from 1 byte to about `largest` bytes (UTF-8), sizes spread geometrically and shuffled so
    small and large messages follow each other; about half carry non-ASCII text (2-, 3- and 4-byte UTF-8)."""
    import random
    rng = random.Random(1835)
    sizes = [max(1, round(largest ** (k / (count - 1)))) for k in range(count)]
    rng.shuffle(sizes)
    ascii_pool = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?-_=+()[]{}<>/\\'\"#$%&*@^`|~"
    other_pool = "\u00e9\u00fc\u00df\u00f1\u0436\u03bb\u20ac\u65e5\u672c\u8a9e\uac00\U0001F600\U0001F680"
    lines = []
    for i, size in enumerate(sizes):
        pool = ascii_pool + (other_pool if i % 2 else "")
        chars, n = [], 0
        while n < size:
            c = rng.choice(pool)
            if n + len(c.encode()) > size and n:
                c = rng.choice(ascii_pool)
            chars.append(c)
            n += len(c.encode())
        lines.append("".join(chars))
    return lines


def test_wsgate_client_against_a_kaazing_like_server(procs, wsgate_bin):
    """`wsgate connect wsr://…/echo` against an independent Python peer that behaves on the wire like the Kaazing
    gateway (peers/rtmp/kaazing_like_server.py): zero S1, Set Chunk Size 65536, no publish confirmation, the play
    status followed by three type-18 data messages, every message one write with a type-0 header, echoes always
    as AMF3 ByteArray — and the gateway's fragility: each read parsed on its own, a header straddling two reads
    lost, 2-/3-byte basic headers and message types outside WSR's set closing the connection. 50 lines of 1 byte
    to ~100 KB (non-ASCII among them) must all come back, in order, as the binary messages the gateway makes of
    them, with the peer recording none of those failure events; of the two subprotocols offered, the peer takes
    the first."""
    import sys
    port = free_port()
    peer, peer_log = procs.start([sys.executable, KAAZING_LIKE, "--port", port], "kaazing-like-wsr")
    wait_port(port, peer)

    lines = kaazing_like_lines()
    payloads = [line.encode() for line in lines]
    assert min(map(len, payloads)) == 1 and max(map(len, payloads)) >= 90_000
    assert any(not p.isascii() for p in payloads)
    proc = subprocess.run([str(wsgate_bin), "connect", f"wsr://{HOST}:{port}/echo", "--subprotocol", "kaazing.echo",
                           "--subprotocol", "other"],
                          input=b"".join(p + b"\n" for p in payloads), capture_output=True, timeout=20)
    # the peer logs the session's end before it closes TCP; should the client have left first, give it a moment
    wait_for(lambda: '"connection closed"' in peer_log.read_text(errors="replace"), "the peer to see the session end",
             timeout=5)
    peer_events = events(peer_log.read_text(errors="replace"))
    stderr = proc.stderr.decode(errors="replace")
    context = f"client stderr:\n{stderr[-2000:]}\npeer log ({peer_log}):\n{tail(peer_log)}"

    # what the gateway could not have coped with
    for bad in ("header split across reads", "multi-byte basic header", "unsupported message", "parse error",
                "bad command", "bad data message", "data before open", "unknown tcUrl"):
        found = [e for e in peer_events if e["event"] == bad]
        assert not found, f"the Kaazing-like peer recorded {bad!r}: {found[:5]}\n{context}"
    sessions = [e for e in peer_events if e["event"] == "connection closed"]
    assert len(sessions) == 1, context
    # the session ends with the client's half-close (EOF) once every echo is written, not with the client dropping
    # the connection while the peer is still echoing (a write failing)
    printed = proc.stdout.count(b"\n")
    assert sessions[0]["why"] == "EOF", (f"the peer's session ended with {sessions[0]['why']!r}: the client (exit "
                                         f"{proc.returncode}, {printed} of {len(payloads)} lines printed) dropped the "
                                         f"connection before the peer was done\n{context}")
    assert set(sessions[0]["types"]) <= WSR_SUPPORTED_TYPES, (sessions[0], context)
    sent_types = {e["type"] for e in peer_events if e["event"] == "message"}
    assert sent_types <= WSR_SUPPORTED_TYPES, (sorted(sent_types), context)
    commands = [e["name"] for e in peer_events if e["event"] == "command"]
    assert commands[:5] == ["connect", "createStream", "createStream", "publish", "play"], (commands, context)
    assert [e["length"] for e in peer_events if e["event"] == "data"] == [len(p) for p in payloads], context

    # every line back, in order, as the binary message the gateway's ByteArray makes of it
    assert proc.returncode == 0, context
    assert "connected (wsr)" in stderr, context
    created = [e for e in peer_events if e["event"] == "created"]
    assert [e["subprotocol"] for e in created] == ["kaazing.echo"], context  # X-WebSocket-Protocol, first offered
    assert "connected (subprotocol kaazing.echo)" in stderr, context
    got = proc.stdout.decode(errors="replace").splitlines()
    want = [f"[binary {len(p)} bytes] {p.hex()}" for p in payloads]
    assert len(got) == len(want), f"{len(got)} of {len(want)} messages came back\n{context}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"message {i} ({len(payloads[i])} bytes) differs: got {g[:120]!r}…\n{context}"


def test_wsgate_client_reports_a_server_that_does_not_close_in_time(procs, wsgate_bin):
    """WSR has no close frame: the client half-closes and reads until the server closes TCP, for at most its close
    timeout (5 s). A server still echoing a backlog then (the Kaazing-like peer taking 0.5 s per echo, 20 lines)
    loses the rest — and `wsgate connect` must say so: an unclean 1006 and exit status 1, never a clean exit with
    messages missing. `--linger 0` closes at stdin's end (the default would wait for the echoes, each 0.5 s apart)."""
    import sys
    port = free_port()
    peer, _ = procs.start([sys.executable, KAAZING_LIKE, "--port", port, "--echo-delay", "0.5"], "kaazing-like-slow")
    wait_port(port, peer)
    lines = [f"line {i}" for i in range(20)]
    proc = subprocess.run([str(wsgate_bin), "connect", f"wsr://{HOST}:{port}/echo", "--linger", "0"],
                          input="".join(line + "\n" for line in lines), capture_output=True, text=True, timeout=30)
    got = proc.stdout.splitlines()
    assert 0 < len(got) < len(lines), proc.stdout
    assert got == [f"[binary {len(line)} bytes] {line.encode().hex()}" for line in lines[:len(got)]]
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "closed: 1006 the server did not close in time (unclean)" in proc.stderr, proc.stderr
