"""Hostile RTMP input on the gateway's port (WSR, shared/specs/wsr.md), over real sockets with an independent raw
RTMP client (peers/rtmp/rtmpraw.py). For every offender the gateway must drop that one connection within a few
seconds (EOF or reset — a hang fails the test), log why (`WSR session refused … reason=…`, found by the
offender's own port), let go of it (the `wsgate_tcp_connections` gauge returns to where it was), and keep
serving everybody else: an RFC 6455 client on /echo and a WSR session opened before the first test, both
checked around every test."""
import asyncio
import random
import re
import socket
import struct
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from conftest import HOST, tail
from rawws import read_to_end

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "rtmp"))
import rtmpraw as rr  # noqa: E402

CLOSE_WITHIN = 5.0  # seconds the gateway has to drop an offender (its handshake timeout is 10 s, the WSR one 60 s)


# ------------------------------------------------------------------------------------------ the bystanders

@pytest.fixture(scope="module")
def wsr_session(server):
    """A WSR session opened the whole way (create, connect, createStream ×2, publish, play) before any
    offender shows up; every test checks it still echoes."""
    s = rr.Session(server.port)
    assert s.echo(b"first") == b"first"
    yield s
    s.close()


async def rfc6455_echo(url: str, payload: str) -> str:
    async with connect(url, open_timeout=10, close_timeout=5) as ws:
        await ws.send(payload)
        return await asyncio.wait_for(ws.recv(), 10)


@pytest.fixture(autouse=True)
def nothing_else_harmed(request, server, wsr_session):
    name = request.node.name.encode()
    assert wsr_session.echo(b"before " + name) == b"before " + name
    yield
    server.assert_alive()
    assert wsr_session.echo(b"after " + name) == b"after " + name, "the open WSR session was harmed"
    msg = f"still serving after {request.node.name}"
    assert asyncio.run(rfc6455_echo(server.url("/echo"), msg)) == msg


# ------------------------------------------------------------------------------------------------- helpers

def short(line: str, n: int = 300) -> str:
    """A log line cut for a failure message (hostile input can make lines of megabytes)."""
    return line if len(line) <= n else f"{line[:n]}… ({len(line)} chars)"


def tcp_connections(server) -> float:
    """The gateway's `wsgate_tcp_connections` gauge (this scrape's own connection included)."""
    with urllib.request.urlopen(f"http://{HOST}:{server.port}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^wsgate_tcp_connections (\S+)$", text, re.M)
    assert m, "no wsgate_tcp_connections in /metrics"
    return float(m.group(1))


class Offender:
    """One hostile RTMP connection, plus what is needed to judge how the gateway dealt with it: the log size
    and the connection gauge from before it connected."""

    def __init__(self, server, handshake: bool = True, session: bool = False):
        """`handshake`: do the RTMP handshake first; `session`: open a whole WSR session (`rr.Session`) first."""
        self.server = server
        self.log_start = server.log.stat().st_size
        self.connections_before = tcp_connections(server)
        self.c = rr.Session(server.port) if session else rr.Client(server.port)
        self.port = self.c.sock.getsockname()[1]
        # An open session's emulated WebSocket is logged with the address its HTTP create request came from.
        self.ports = {self.port, getattr(self.c, "create_port", None)} - {None}
        if handshake and not session:
            self.c.handshake()

    def send(self, data: bytes) -> None:
        """Sends, not minding a server that already hung up (it may refuse before reading everything)."""
        try:
            self.c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_lines(self) -> list[str]:
        with open(self.server.log, "rb") as f:
            f.seek(self.log_start)
            text = f.read().decode(errors="replace")
        mine = re.compile(rf"127\.0\.0\.1:({'|'.join(map(str, self.ports))})\b")
        return [line for line in text.splitlines() if mine.search(line)]

    def wait_log(self, pattern: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                if re.search(pattern, line):
                    return line
            if time.monotonic() > deadline:
                pytest.fail(f"no log line matching {pattern!r} for peer port {self.ports}; log lines for it: "
                            f"{[short(ln) for ln in self.log_lines()]}\nlast lines of {self.server.log}:\n"
                            + "\n".join(short(ln) for ln in tail(self.server.log, 10).splitlines()))
            time.sleep(0.05)

    def wait_released(self, timeout: float = 5.0) -> None:
        """The gateway no longer counts the offender's connection."""
        deadline = time.monotonic() + timeout
        while (now := tcp_connections(self.server)) > self.connections_before:
            if time.monotonic() > deadline:
                pytest.fail(f"wsgate_tcp_connections still {now} (was {self.connections_before} before the "
                            "offender connected): the dropped connection was not let go")
            time.sleep(0.05)

    def expect_dropped(self) -> list[rr.Message]:
        """EOF or reset within CLOSE_WITHIN seconds; the messages the server sent before."""
        try:
            return self.c.expect_eof(CLOSE_WITHIN)
        except TimeoutError:
            pytest.fail(f"the gateway did not drop the offender within {CLOSE_WITHIN}s "
                        f"(log lines for it: {[short(ln) for ln in self.log_lines()]})")
        finally:
            self.c.close()

    def expect_refused(self, reason: str = ".") -> list[rr.Message]:
        """Dropped, `WSR session refused` logged with a reason matching `reason` (a regex, case-insensitive),
        connection released. Returns the messages the server sent before closing."""
        messages = self.expect_dropped()
        line = self.wait_log(r"WSR session refused")
        m = re.search(r"reason=(.*?)(?: \w+=|\s\[|$)", line)
        assert m and m.group(1).strip(), f"no reason= in {line!r}"
        assert re.search(reason, m.group(1), re.I), f"reason {m.group(1)!r} does not match {reason!r}"
        self.wait_released()
        return messages


def commands(messages: list[rr.Message]) -> list[list]:
    return [rr.decode_amf0(m.payload) for m in messages if m.type_id == rr.AMF0_COMMAND]


def connect_body(tc_url: str, **extra) -> bytes:
    app = tc_url.split("/", 3)[3]
    return rr.amf0("connect", 1, {"app": app, "tcUrl": tc_url, "objectEncoding": 3, **extra})


def assert_not_connected(messages: list[rr.Message]) -> None:
    results = [c for c in commands(messages) if c and c[0] == "_result"]
    assert not results, f"the gateway answered the offender's connect: {results}"


# ------------------------------------------------------------------------------------ 1. unknown tcUrl

@pytest.mark.parametrize("case", ["unknown", "already-used", "missing", "not-a-string"])
def test_connect_for_no_session_gets_error_then_close(server, wsr_session, case):
    """NetConnection.connect whose tcUrl names no session waiting for its RTMP connection — one nobody created,
    the one the open WSR session already used, none at all, a number: an `_error` (txid 1) with
    NetConnection.Connect.Rejected whose description says what is wrong with the tcUrl, then the close."""
    off = Offender(server)
    tc_url = {"unknown": f"rtmp://127.0.0.1:{server.port}/echo/{'x' * 32}", "already-used": wsr_session.url,
              "missing": None, "not-a-string": 42}[case]
    props = {"app": "echo", "objectEncoding": 3} | ({} if tc_url is None else {"tcUrl": tc_url})
    off.send(rr.chunk(rr.COMMAND_CSID, rr.AMF0_COMMAND, rr.amf0("connect", 1, props)))
    replies = commands(off.expect_refused(r"tcUrl"))
    errors = [c for c in replies if c and c[0] == "_error"]
    assert errors, f"no _error before the close; commands received: {replies}"
    assert len(errors) == 1 and len(replies) == 1, replies
    _, txid, *rest = errors[0]
    assert txid == 1
    info = next((v for v in rest if isinstance(v, dict)), None)
    assert info is not None, f"no information object in {errors[0]}"
    assert info.get("code") == "NetConnection.Connect.Rejected", info
    description = str(info.get("description", ""))
    assert "tcurl" in description.lower() or (isinstance(tc_url, str) and tc_url in description), info


def test_hostile_tcurl_forges_no_log_line(server):
    """The tcUrl is the client's text, and the refusal logs it: a newline in it must not start a log line of
    the attacker's making, and a 1 MiB tcUrl (an AMF0 long string) must not become 1 MiB of log."""
    off = Offender(server)
    marker = f"FORGED-{off.port}"
    tc_url = f"rtmp://127.0.0.1:{server.port}/echo/x\r\n2026-01-01T00:00:00+0000 notice wsgate: {marker} [wsgate] stopped\n"
    tc_url += "A" * (1 << 20)
    body = rr.amf0("connect", 1, {"app": "echo", "tcUrl": tc_url})
    off.send(rr.set_chunk_size(1 << 16) + rr.chunk(rr.COMMAND_CSID, rr.AMF0_COMMAND, body, chunk_size=1 << 16))
    off.expect_dropped()
    off.wait_released()
    off.wait_log(r".")  # the refusal was logged (then the log holds all it will of this connection)
    time.sleep(0.2)
    with open(server.log, "rb") as f:
        f.seek(off.log_start)
        added = f.read().decode(errors="replace")
    forged = [line for line in added.splitlines() if marker in line and not re.search(r"127\.0\.0\.1:\d+", line)]
    assert not forged, f"a client forged a log line: {short(forged[0])!r}"
    grown = len(added)
    assert grown < 64 << 10, f"one refused connect added {grown} bytes to the log"


def test_two_connections_race_for_one_session(server):
    """Two RTMP connections connect with the same (valid) tcUrl, then both set up their streams. One session
    opens and echoes; the other connection is dropped within a few seconds, and the log says why — whether the
    gateway refuses it at connect or at play."""
    url = rr.create_session(server.port)
    log_start = server.log.stat().st_size
    first, second = rr.Session(server.port, url=url, start=False), rr.Session(server.port, url=url, start=False)
    outcome = {}
    for s in (first, second):
        s.handshake()
        s.connect(s.url)
    for name, s in (("first", first), ("second", second)):
        try:
            reply = s.recv_command(CLOSE_WITHIN)
            assert reply[0] in ("_result", "_error"), reply
            if reply[0] == "_error":
                raise rr.Closed("connect refused")
            s.open_streams()
            assert s.echo(name.encode(), CLOSE_WITHIN) == name.encode()
            outcome[name] = "open"
        except (rr.Closed, AssertionError, TimeoutError, ConnectionError) as e:
            outcome[name] = f"dropped ({e!r})"
            try:
                s.expect_eof(CLOSE_WITHIN)
            except TimeoutError:
                pytest.fail(f"{name} connection neither opened nor dropped: {e!r}")
    try:
        assert sorted(o == "open" for o in outcome.values()) == [False, True], outcome
        loser = first if outcome["first"] != "open" else second
        winner = second if loser is first else first
        assert winner.echo(b"still mine") == b"still mine"
        port = loser.sock.getsockname()[1]
        deadline = time.monotonic() + 5
        while True:
            with open(server.log, "rb") as f:
                f.seek(log_start)
                lines = [ln for ln in f.read().decode(errors="replace").splitlines()
                         if re.search(rf"127\.0\.0\.1:{port}\b", ln)]
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert lines, f"the dropped connection (port {port}, {outcome}) left no log line"
    finally:
        first.close()
        second.close()


# ------------------------------------------------------------------------- 2. garbage after the handshake

GARBAGE = {  # case → bytes to send after the handshake, made from the server's port
    # Deterministic random bytes; whatever chunk headers they happen to make, they are no WSR session.
    "random-4KiB": lambda port: random.Random(1935).randbytes(4096),
    # A type-3 (continuation) chunk on a chunk stream that never began a message.
    "continuation-first": lambda port: b"\xc3" + b"\x00" * 200,
    # A type-1 header on a fresh chunk stream: nothing to carry the message stream id over from.
    "type1-first": lambda port: b"\x43" + b"\x00\x00\x00" + b"\x00\x00\x10" + b"\x14" + b"\x00" * 16,
    # A new message header on chunk stream 3 while its 300-byte message is only 128 bytes in.
    "header-mid-message": lambda port: rr.type0_header(3, rr.AMF0_COMMAND, 300) + b"\x00" * 128
    + rr.type0_header(3, rr.AMF0_COMMAND, 10) + b"\x00" * 10,
    # Audio (type 8): never part of WSR.
    "audio-message": lambda port: rr.chunk(4, rr.AUDIO, b"\xaf\x01" + b"\x00" * 64, msid=1),
    # A message type nobody defined, then a well-formed connect for a real session.
    "unknown-type": lambda port: rr.chunk(3, 0x7F, b"\x00" * 8)
    + rr.chunk(3, rr.AMF0_COMMAND, connect_body(rr.create_session(port))),
    # Not AMF0 at all in a command message.
    "command-not-amf": lambda port: rr.chunk(3, rr.AMF0_COMMAND, b"\xff" * 64),
    # A command before connect that is not connect.
    "play-before-connect": lambda port: rr.chunk(3, rr.AMF0_COMMAND, rr.amf0("play", 0, None, "s")),
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_after_the_handshake(server, case):
    data = GARBAGE[case](server.port)
    off = Offender(server)
    off.send(data)
    assert_not_connected(off.expect_refused())


# ----------------------------------------------------------------------- 3. chunk sizes, message lengths

@pytest.mark.parametrize("size", [0x7FFFFFFF, 0xFFFFFFFF, 0, (1 << 20) + 1],
                         ids=["2^31-1", "all-ones", "zero", "1MiB+1"])
def test_set_chunk_size_out_of_range(server, size):
    """Set Chunk Size 0 (would loop forever on empty chunks) or above the gateway's limit (it would let one
    chunk be as large as the client likes), then a connect written at that chunk size: refused at the Set Chunk
    Size, the connect never answered."""
    url = rr.create_session(server.port)
    off = Offender(server)
    body = connect_body(url)
    write_size = size & 0x7FFFFFFF or len(body)
    off.send(rr.set_chunk_size(size) + rr.chunk(3, rr.AMF0_COMMAND, body, chunk_size=write_size))
    assert_not_connected(off.expect_refused(r"chunk size"))


def test_set_chunk_size_with_a_short_payload(server):
    off = Offender(server)
    off.send(rr.chunk(rr.CONTROL_CSID, rr.SET_CHUNK_SIZE, b"\x00\x10"))
    off.expect_refused()


def test_message_length_at_the_24_bit_maximum_before_connect(server):
    """The longest message RTMP can announce (2^24 - 1 bytes, a 24-bit field: nothing "16 MiB+" fits on the
    wire) as the first command of a client nobody knows yet. Honouring it means buffering ~16 MiB per chunk
    stream for an unauthenticated peer before it said who it is; the gateway must refuse from the announced
    length alone, without waiting for the bytes."""
    off = Offender(server)
    off.send(rr.type0_header(3, rr.AMF0_COMMAND, 0xFFFFFF) + b"\x02\x00\x07connect" + b"\x00" * 118)
    off.expect_refused(r"message|length|long|large")


def test_message_length_at_the_24_bit_maximum_on_many_chunk_streams(server):
    """The same announcement on 60 chunk streams (under the chunk stream limit) after Set Chunk Size 1 MiB (the
    largest accepted): each one announces 16 MiB. Refused before the gateway has to hold the ~1 GiB."""
    off = Offender(server)
    data = bytearray(rr.set_chunk_size(1 << 20))
    for csid in range(4, 64):
        data += rr.type0_header(csid, rr.AMF0_COMMAND, 0xFFFFFF) + b"\x00" * 64
    off.send(bytes(data))
    off.expect_refused(r"message|length|long|large")


# -------------------------------------------------------------------------------------------- 4. AMF bombs

def nested_objects(depth: int) -> bytes:
    """`depth` anonymous objects, each the only property ("a") of the one around it."""
    return b"\x03" + b"\x00\x01a\x03" * (depth - 1) + b"\x00\x00\x09" * depth


AMF_BOMBS = {
    "object-nested-10000": nested_objects(10_000),
    "strict-array-nested-10000": b"\x0a\x00\x00\x00\x01" * 10_000 + b"\x05",
    "strict-array-of-2^31": b"\x0a\x80\x00\x00\x00" + b"\x05" * 64,
    "strict-array-of-2^32-1": b"\x0a\xff\xff\xff\xff" + b"\x05" * 64,
    "long-string-of-4GiB": b"\x0c\xff\xff\xff\xff" + b"x" * 64,
    "object-key-longer-than-message": b"\x03\xff\xffabc",
}


@pytest.mark.parametrize("bomb", list(AMF_BOMBS))
def test_amf_bomb_in_connect(server, bomb):
    """A connect for a real session whose object carries the bomb as a property: refused (not decoded for
    minutes, not allocated, no stack overflow), the connect never answered."""
    url = rr.create_session(server.port)
    off = Offender(server)
    props = {"app": url.split("/", 3)[3], "tcUrl": url, "objectEncoding": 3}
    body = rr.amf0("connect", 1) + b"\x03" + b"".join(rr.amf0_key(k) + rr.amf0(v) for k, v in props.items())
    body += rr.amf0_key("bomb") + AMF_BOMBS[bomb] + b"\x00\x00\x09"
    off.send(rr.chunk(3, rr.AMF0_COMMAND, body))
    assert_not_connected(off.expect_refused())


# -------------------------------------------------------------------------------- 5. handshake oddities

def rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("where", ["mid-C1", "after-C1", "after-C2", "after-C2-reset", "after-connect-reset"])
def test_client_vanishes_during_setup(server, where):
    """A client that goes away in the middle of the handshake or right after it: nothing to answer, but the
    gateway must let go of the connection (and of nothing else)."""
    off = Offender(server, handshake=False)
    hello, _ = rr.handshake_c0c1()
    sock = off.c.sock
    if where == "mid-C1":
        sock.sendall(hello[:101])
        time.sleep(0.1)
        sock.close()
    else:
        sock.sendall(hello)
        s = off.c.recv_exact(1 + 2 * rr.PACKET)
        assert s[0] == rr.VERSION
        if where == "after-C1":
            sock.close()
        else:
            sock.sendall(s[1:1 + rr.PACKET])
            if where == "after-C2":
                sock.close()
            elif where == "after-C2-reset":
                rst_close(sock)
            else:
                sock.sendall(rr.chunk(3, rr.AMF0_COMMAND, connect_body(rr.create_session(server.port))))
                off.c.recv_command()  # _result
                rst_close(sock)
    off.wait_released()


@pytest.mark.parametrize("filler", ["zeros", "random"])
@pytest.mark.parametrize("version", [0x06, 0x08], ids=["rtmpe-06", "rtmpe-08"])
def test_other_rtmp_versions_are_refused(server, version, filler):
    """C0 other than 0x03 (0x06/0x08: RTMPE) followed by a C1: refused at once, never answered with an S0
    (a client would take that as the handshake going on) — not left waiting for the handshake timeout. The C1
    filler is fixed (zeros, or seeded random bytes) so the outcome cannot hang on whether it happens to hold a
    line feed."""
    off = Offender(server, handshake=False)
    body = bytes(rr.PACKET - 8) if filler == "zeros" else random.Random(version).randbytes(rr.PACKET - 8)
    off.send(bytes([version]) + bytes(8) + body)
    try:
        reply = read_to_end(off.c.sock, CLOSE_WITHIN)
    finally:
        off.c.close()
    assert reply.closed, f"the gateway did not drop the offender within {CLOSE_WITHIN}s: {reply}"
    got = reply.data
    assert got[:1] not in (b"\x03", bytes([version])), f"answered with an S0: {got[:40]!r}"
    line = off.wait_log(r"refused")
    assert re.search(r"(reason|detail)=\S", line), line
    off.wait_released()


# ------------------------------------------------------------------------------ 6. many chunk stream ids

def incomplete_on_many_chunk_streams(count: int, first_csid: int = 320) -> bytes:
    """`count` messages, each on its own chunk stream (3-byte basic headers), each announcing 1000 bytes but
    sending only its first 128-byte chunk."""
    out = bytearray()
    for csid in range(first_csid, first_csid + count):
        out += rr.type0_header(csid, rr.AMF0_COMMAND, 1000, basic_size=3) + b"\x00" * 128
    return bytes(out)


def test_thousands_of_chunk_streams(server):
    off = Offender(server)
    off.send(incomplete_on_many_chunk_streams(5000))
    off.expect_refused(r"chunk stream")


# ----------------------------------------------------------------- the same, inside an open WSR session

OPEN_SESSION_CASES = {
    "chunk-size-2^31-1": lambda: rr.set_chunk_size(0x7FFFFFFF) + b"\x00" * 64,
    "chunk-size-zero": lambda: rr.set_chunk_size(0),
    "continuation-first": lambda: b"\xc5" + b"\x00" * 200,
    "audio-message": lambda: rr.chunk(4, rr.AUDIO, b"\xaf\x01" + b"\x00" * 64, msid=1),
    "thousands-of-chunk-streams": lambda: incomplete_on_many_chunk_streams(5000),
    "data-not-wsr": lambda: rr.chunk(rr.DATA_CSID, rr.AMF3_DATA, b"\x00\x02\x00\x01d" + nested_objects(10_000), msid=1),
}


@pytest.mark.parametrize("case", list(OPEN_SESSION_CASES))
def test_hostile_input_in_an_open_session(server, case):
    """A WSR session that opened properly and echoed, then turns hostile: that session is dropped (a protocol
    error of its emulated WebSocket), the other one is not."""
    off = Offender(server, session=True)
    assert off.c.echo(b"ok so far") == b"ok so far"
    off.send(OPEN_SESSION_CASES[case]())
    off.expect_dropped()
    line = off.wait_log(r"reason=\S")
    assert "1002" in line or "protocol" in line.lower(), f"not logged as a protocol error: {short(line)}"
    off.wait_released()
