"""A small raw RTMP client for WSR tests, written from Adobe's RTMP specification (1.0, Dec 2012) and AMF0
specification, and from shared/specs/wsr.md. It is independent of the gateway's Swift RTMP engine on purpose:
a test that reused the engine's own reading of the spec could not catch where that reading is wrong.

It puts exact bytes on the wire — including bytes no sane client would send — and reads back exactly what
the server sent, so it validates little. What it has:

- `handshake`: the plain (no digest) client handshake, C0+C1 → S0+S1+S2 → C2 = S1.
- `chunk`: a message as chunks, a type-0 header then type-3 continuations at a given chunk size; the
  announced length can be a lie.
- `amf0` / `AMF0Reader`: AMF0 encoding of Python values (plus `Raw` bytes, for hand-made hostile values) and
  decoding of what the server answers (`_result`, `_error`, `onStatus`).
- `ChunkReader`: reassembles the server's messages (1/2/3-byte basic headers, header types 0–3, extended
  timestamps, Set Chunk Size).
- `Client`: a socket with the above, and the WSR steps (create over HTTP, connect, createStream, publish,
  play, data messages).
"""
import http.client
import os
import socket
import struct
import time
from dataclasses import dataclass

HOST = "127.0.0.1"
VERSION = 0x03          # C0/S0: plain RTMP
PACKET = 1536           # C1, C2, S1, S2

# Message type ids (RTMP spec §5.4, §7.1)
SET_CHUNK_SIZE, ABORT, ACK, USER_CONTROL, WINDOW_ACK_SIZE, SET_PEER_BANDWIDTH = 1, 2, 3, 4, 5, 6
AUDIO, VIDEO = 8, 9
AMF3_DATA, AMF3_COMMAND, AMF0_DATA, AMF0_COMMAND = 15, 17, 18, 20

CONTROL_CSID = 2        # protocol control messages travel on chunk stream 2, message stream 0
COMMAND_CSID = 3        # where Flash (and the gateway) put NetConnection commands
DATA_CSID = 8           # where Flash put WSR data messages


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset)."""


# ---------------------------------------------------------------------------------------------------- chunks

def basic_header(fmt: int, csid: int, size: int | None = None) -> bytes:
    """The chunk basic header (spec §5.3.1.1): 1 byte for csid 2–63, 2 bytes for 64–319, 3 bytes for 64–65599.
    `size` forces a form (1, 2 or 3) — e.g. 3 for a csid the 2-byte form could carry, as hostile input may."""
    if size is None:
        size = 1 if csid < 64 else 2 if csid < 320 else 3
    if size == 1:
        assert 2 <= csid <= 63
        return bytes([fmt << 6 | csid])
    assert 64 <= csid <= 65599
    if size == 2:
        assert csid < 320
        return bytes([fmt << 6, csid - 64])
    return bytes([fmt << 6 | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])


def type0_header(csid: int, type_id: int, length: int, msid: int = 0, timestamp: int = 0,
                 basic_size: int | None = None) -> bytes:
    """Basic header + the 11-byte type-0 message header: timestamp (3, BE), length (3, BE), type id, message
    stream id (4, little-endian — the one little-endian field in RTMP). Timestamps below 0xFFFFFF only."""
    assert timestamp < 0xFFFFFF and length <= 0xFFFFFF
    return (basic_header(0, csid, basic_size) + timestamp.to_bytes(3, "big") + length.to_bytes(3, "big")
            + bytes([type_id]) + struct.pack("<I", msid))


def chunk(csid: int, type_id: int, payload: bytes, msid: int = 0, chunk_size: int = 128,
          length: int | None = None, basic_size: int | None = None) -> bytes:
    """One message as chunks: a type-0 chunk, then type-3 chunks of at most `chunk_size` payload bytes each
    (spec §5.3.1). `length` announces a different message length than `len(payload)` (hostile input); the
    payload is still cut at `chunk_size` boundaries."""
    out = bytearray(type0_header(csid, type_id, len(payload) if length is None else length, msid,
                                 basic_size=basic_size))
    for i in range(0, max(len(payload), 1), chunk_size):
        if i:
            out += basic_header(3, csid, basic_size)
        out += payload[i:i + chunk_size]
    return bytes(out)


def set_chunk_size(size: int) -> bytes:
    """Set Chunk Size (type 1, spec §5.4.1): 4 bytes, big-endian; the top bit must be 0 (not enforced here)."""
    return chunk(CONTROL_CSID, SET_CHUNK_SIZE, struct.pack(">I", size & 0xFFFFFFFF))


@dataclass
class Message:
    csid: int
    type_id: int
    msid: int
    timestamp: int
    payload: bytes


class ChunkReader:
    """Reassembles RTMP messages from a byte stream (spec §5.3). Keeps each chunk stream's last header fields,
    because type 1/2/3 headers leave out what did not change. Applies Set Chunk Size as it passes."""

    def __init__(self):
        self.buf = b""
        self.chunk_size = 128  # spec §5.4.1: each direction starts at 128
        self.streams: dict[int, dict] = {}   # csid → last header fields
        self.partial: dict[int, bytes] = {}  # csid → payload assembled so far

    def feed(self, data: bytes) -> list[Message]:
        self.buf += data
        out = []
        while (m := self._chunk()) is not False:
            if m is not None:
                out.append(m)
        return out

    def _chunk(self):
        """Consumes one chunk: a completed Message, None (a chunk mid-message), or False (not all here yet)."""
        b, pos = self.buf, 0
        if not b:
            return False
        fmt, csid = b[0] >> 6, b[0] & 0x3F
        pos = 1
        if csid in (0, 1):
            need = 1 if csid == 0 else 2
            if len(b) < 1 + need:
                return False
            csid = 64 + b[1] + (b[2] << 8 if need == 2 else 0)
            pos += need
        hlen = (11, 7, 3, 0)[fmt]
        if len(b) < pos + hlen:
            return False
        st = dict(self.streams.get(csid, {"ts": 0, "delta": 0, "length": 0, "type": 0, "msid": 0, "ext": False}))
        h = b[pos:pos + hlen]
        pos += hlen
        if fmt <= 2:
            t = int.from_bytes(h[0:3], "big")
            st["ext"] = t == 0xFFFFFF
        if fmt <= 1:
            st["length"], st["type"] = int.from_bytes(h[3:6], "big"), h[6]
        if fmt == 0:
            st["msid"] = struct.unpack("<I", h[7:11])[0]
        if st["ext"]:  # extended timestamp; type-3 chunks repeat it when their stream's last header had one
            if len(b) < pos + 4:
                return False
            t = int.from_bytes(b[pos:pos + 4], "big")
            pos += 4
        have = self.partial.get(csid, b"")
        if not have:  # a chunk beginning a message
            if fmt == 0:
                st["ts"], st["delta"] = t, 0
            elif fmt in (1, 2):
                st["delta"] = t
                st["ts"] = (st["ts"] + t) & 0xFFFFFFFF
            else:
                st["ts"] = (st["ts"] + st["delta"]) & 0xFFFFFFFF
        want = min(self.chunk_size, st["length"] - len(have))
        if len(b) < pos + want:
            return False
        have += b[pos:pos + want]
        self.buf = b[pos + want:]
        self.streams[csid] = st
        if len(have) < st["length"]:
            self.partial[csid] = have
            return None
        self.partial.pop(csid, None)
        if st["type"] == SET_CHUNK_SIZE and len(have) >= 4:
            self.chunk_size = struct.unpack(">I", have[:4])[0] & 0x7FFFFFFF
        return Message(csid, st["type"], st["msid"], st["ts"], have)


# ------------------------------------------------------------------------------------------------------ AMF0

class Raw(bytes):
    """Bytes `amf0` copies as they are: a hand-made (usually hostile) AMF0 value."""


class Undefined:
    """AMF0 undefined (0x06); Flash sends it for absent connect properties."""

    def __eq__(self, other):
        return isinstance(other, Undefined)

    def __repr__(self):
        return "Undefined"


def amf0_key(s: str) -> bytes:
    """An object property name: a UTF-8 string with a 16-bit length and no type marker (AMF0 §2.2)."""
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def amf0(*values) -> bytes:
    """AMF0 encoding (AMF0 spec §2): float/int → number, bool → boolean, str → string (long string past
    65535 bytes), dict → anonymous object (insertion order), None → null, list → strict array,
    Undefined() → undefined, Raw → itself."""
    out = bytearray()
    for v in values:
        if isinstance(v, Raw):
            out += v
        elif isinstance(v, bool):  # before int: bool is an int in Python
            out += bytes([0x01, int(v)])
        elif isinstance(v, (int, float)):
            out += b"\x00" + struct.pack(">d", float(v))
        elif isinstance(v, str):
            b = v.encode()
            out += (b"\x02" + struct.pack(">H", len(b)) if len(b) <= 0xFFFF else b"\x0c" + struct.pack(">I", len(b))) + b
        elif isinstance(v, dict):
            out += b"\x03"
            for k, x in v.items():
                out += amf0_key(k) + amf0(x)
            out += b"\x00\x00\x09"
        elif v is None:
            out += b"\x05"
        elif isinstance(v, Undefined):
            out += b"\x06"
        elif isinstance(v, list):
            out += b"\x0a" + struct.pack(">I", len(v)) + amf0(*v)
        else:
            raise TypeError(f"no AMF0 encoding for {type(v).__name__}")
    return bytes(out)


class AMF0Reader:
    """Decodes AMF0 values the server sends (number, boolean, string, long string, object, null, undefined,
    ECMA array, strict array). Objects come back as dicts. Raises ValueError on anything else or on truncation:
    the server's replies are expected to be well-formed, and a test should say so when they are not."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"AMF0 truncated at {self.pos} (+{n}) of {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _str(self, n: int) -> str:
        return self._take(n).decode()

    def _props(self) -> dict:
        out = {}
        while True:
            key = self._str(struct.unpack(">H", self._take(2))[0])
            if not key:
                if self._take(1) != b"\x09":
                    raise ValueError("AMF0 object without its end marker")
                return out
            out[key] = self.value()

    def value(self):
        m = self._take(1)[0]
        if m == 0x00:
            return struct.unpack(">d", self._take(8))[0]
        if m == 0x01:
            return self._take(1) != b"\x00"
        if m == 0x02:
            return self._str(struct.unpack(">H", self._take(2))[0])
        if m == 0x0C:
            return self._str(struct.unpack(">I", self._take(4))[0])
        if m == 0x03:
            return self._props()
        if m == 0x05:
            return None
        if m == 0x06:
            return Undefined()
        if m == 0x08:
            self._take(4)  # a count hint; the end marker ends it
            return self._props()
        if m == 0x0A:
            return [self.value() for _ in range(struct.unpack(">I", self._take(4))[0])]
        raise ValueError(f"AMF0 marker 0x{m:02x} not supported here")

    def all(self) -> list:
        out = []
        while self.pos < len(self.data):
            out.append(self.value())
        return out


def decode_amf0(data: bytes) -> list:
    return AMF0Reader(data).all()


# ---------------------------------------------------------------------------------------- WSR data messages

def u29(n: int) -> bytes:
    """AMF3 variable-length unsigned 29-bit integer (AMF3 spec §1.3.1)."""
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([n >> 7 | 0x80, n & 0x7F])
    if n < 0x200000:
        return bytes([n >> 14 | 0x80, n >> 7 & 0x7F | 0x80, n & 0x7F])
    assert n < 0x20000000
    return bytes([n >> 22 | 0x80, n >> 15 & 0x7F | 0x80, n >> 8 & 0x7F | 0x80, n & 0xFF])


def read_u29(b: bytes, pos: int) -> tuple[int, int]:
    n = 0
    for i in range(4):
        c = b[pos + i]
        if i == 3:
            return n << 8 | c, pos + 4
        n = n << 7 | c & 0x7F
        if not c & 0x80:
            return n, pos + i + 1
    raise AssertionError("unreachable")


DATA_PREFIX = b"\x00\x02\x00\x01d\x11"  # AMF3 data lead byte, AMF0 string "d", switch to AMF3


def wsr_data(payload: bytes) -> bytes:
    """The body of a WSR data message (wsr.md §5): lead byte, "d", switch to AMF3, ByteArray."""
    return DATA_PREFIX + b"\x0c" + u29(len(payload) << 1 | 1) + payload


def wsr_payload(body: bytes) -> bytes:
    """The payload of a WSR data message body (ByteArray or String); ValueError when it is not one."""
    if not body.startswith(DATA_PREFIX) or len(body) < len(DATA_PREFIX) + 2 or body[6] not in (0x0C, 0x06):
        raise ValueError(f"not a WSR data message: {body[:16].hex()}")
    header, pos = read_u29(body, 7)
    if not header & 1 or len(body) - pos != header >> 1:
        raise ValueError(f"WSR data message length {header >> 1} vs {len(body) - pos} bytes")
    return body[pos:]


# ---------------------------------------------------------------------------------------------------- client

def create_session(port: int, path: str = "/echo", host: str = HOST) -> str:
    """The WSR create request (wsr.md §1): `<path>/;e/cr` with X-WebSocket-Version: wsr-1.0 → 201 + URL."""
    return create_session_from(port, path, host)[0]


def create_session_from(port: int, path: str = "/echo", host: str = HOST) -> tuple[str, int]:
    """The same, also returning the local port the create request came from (the gateway may log the session's
    peer as that one)."""
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request("POST", path + "/;e/cr", headers={"X-WebSocket-Version": "wsr-1.0"})
        local_port = c.sock.getsockname()[1]
        r = c.getresponse()
        body = r.read().decode()
        if r.status != 201:
            raise AssertionError(f"create {path}: {r.status} {body!r}")
        return body, local_port
    finally:
        c.close()


def handshake_c0c1(version: int = VERSION) -> tuple[bytes, bytes]:
    """C0 + C1 (spec §5.2.2–3): time (4), four zero bytes, 1528 random bytes. Returns (bytes to send, C1)."""
    c1 = b"\x00" * 8 + os.urandom(PACKET - 8)
    return bytes([version]) + c1, c1


class Client:
    """One TCP connection to the gateway, speaking raw RTMP. Every write is one `sendall` with TCP_NODELAY."""

    def __init__(self, port: int, host: str = HOST, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = ChunkReader()
        self.messages: list[Message] = []
        self.chunk_size = 128  # what we announced to the server (its inbound chunk size)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += self._recv(n - len(out))
        return out

    def _recv(self, n: int = 65536) -> bytes:
        try:
            data = self.sock.recv(n)
        except ConnectionResetError as e:
            raise Closed("connection reset") from e
        if not data:
            raise Closed("EOF")
        return data

    def handshake(self) -> bytes:
        """Client handshake (wsr.md §2); returns S1."""
        hello, _ = handshake_c0c1()
        self.send(hello)
        s = self.recv_exact(1 + 2 * PACKET)
        assert s[0] == VERSION, f"S0 is {s[0]}"
        s1 = s[1:1 + PACKET]
        self.send(s1)  # C2 = S1
        return s1

    def recv_message(self, timeout: float = 10.0) -> Message:
        """The server's next message."""
        deadline = time.monotonic() + timeout
        while not self.messages:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no RTMP message from the server")
            self.sock.settimeout(left)
            try:
                self.messages += self.reader.feed(self._recv())
            except socket.timeout as e:
                raise TimeoutError("no RTMP message from the server") from e
        return self.messages.pop(0)

    def recv_until(self, accept, timeout: float = 10.0) -> Message:
        """Skips messages until `accept(message)`; the skipped ones are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv_message(max(0.01, deadline - time.monotonic()))
            if accept(m):
                return m

    def recv_command(self, timeout: float = 10.0) -> list:
        """The next AMF0 command (type 20; type 17 without its lead byte), decoded."""
        m = self.recv_until(lambda m: m.type_id in (AMF0_COMMAND, AMF3_COMMAND), timeout)
        return decode_amf0(m.payload[1:] if m.type_id == AMF3_COMMAND else m.payload)

    def command(self, name: str, txid: float, *args, msid: int = 0, csid: int = COMMAND_CSID) -> None:
        self.send(chunk(csid, AMF0_COMMAND, amf0(name, txid, *args), msid=msid, chunk_size=self.chunk_size))

    def connect(self, tc_url: str, txid: float = 1, **extra) -> None:
        """NetConnection.connect (spec §7.2.1.1) with what Flash sent for WSR; the reply is left unread."""
        app = tc_url.split("/", 3)[3] if tc_url.count("/") >= 3 else ""
        self.command("connect", txid, {"app": app, "tcUrl": tc_url, "objectEncoding": 3, **extra})

    def expect_eof(self, timeout: float = 5.0) -> list[Message]:
        """Reads until the server closes (EOF or reset); returns the messages that came before. Fails with
        TimeoutError when the connection is still open after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"server did not close within {timeout}s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout as e:
                raise TimeoutError(f"server did not close within {timeout}s") from e
            except ConnectionResetError:
                break
            if not data:
                break
            self.messages += self.reader.feed(data)
        out, self.messages = self.messages, []
        return out

    def close(self) -> None:
        self.sock.close()


class Session(Client):
    """A whole WSR session: create, handshake, connect, createStream ×2, publish on the first stream, play on
    the second, as Flash did (wsr.md §4); then `echo` sends a data message and reads the one coming back.
    `url`: connect with that tcUrl instead of creating a session; `start=False`: only the TCP connection, the
    steps are left to `handshake`, `connect_session` and `open_streams`."""

    def __init__(self, port: int, path: str = "/echo", url: str | None = None, start: bool = True,
                 timeout: float = 10.0):
        self.create_port = None
        if url is None:
            url, self.create_port = create_session_from(port, path)
        self.url = url
        super().__init__(port, timeout=timeout)
        self.publish_id = self.play_id = 0
        if start:
            self.handshake()
            self.connect_session()
            self.open_streams()

    def connect_session(self) -> None:
        self.connect(self.url)
        reply = self.recv_command()
        assert reply[0] == "_result" and reply[3]["code"] == "NetConnection.Connect.Success", reply

    def open_streams(self) -> None:
        self.command("createStream", 2, None)
        self.publish_id = int(self.recv_command()[3])
        self.command("createStream", 3, None)
        self.play_id = int(self.recv_command()[3])
        self.command("publish", 0, None, "s", msid=self.publish_id, csid=DATA_CSID)
        self.command("play", 0, None, "s", msid=self.play_id, csid=DATA_CSID)
        status = self.recv_command()
        assert status[0] == "onStatus" and status[3]["code"] == "NetStream.Play.Start", status

    def send_data(self, payload: bytes) -> None:
        self.send(chunk(DATA_CSID, AMF3_DATA, wsr_data(payload), msid=self.publish_id, chunk_size=self.chunk_size))

    def recv_data(self, timeout: float = 10.0) -> bytes:
        return wsr_payload(self.recv_until(lambda m: m.type_id == AMF3_DATA, timeout).payload)

    def echo(self, payload: bytes, timeout: float = 10.0) -> bytes:
        self.send_data(payload)
        return self.recv_data(timeout)
