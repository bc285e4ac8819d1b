"""A WSR server that behaves on the wire like the Kaazing gateway's WSR transport (shared/specs/wsr.md), written
independently of wsgate's Swift code, to test wsgate's WSR *client* against the server it was made for.

    python kaazing_like_server.py --port P [--host 127.0.0.1] [--pending rtmp://…]

One port, HTTP and RTMP told apart by the first byte (0x03 = RTMP C0), as the gateway did:

- HTTP `<path>/;e/cr` (any method): `X-WebSocket-Version: wsr-1.0` required (else 501), the first offered
  `X-WebSocket-Protocol` echoed, `201 Created`, `text/plain`, body `rtmp://<Host, :80 added when absent><path>/
  <32 random chars>[?query]` without a newline; the URL is pending for 60 s.
- RTMP handshake: S0 + S1 (1536 zero bytes) on C0; S2 = C1.time ‖ C1.time+1 ‖ C1[8:] on C1; Set Chunk Size 65536
  (csid 2) on C2.
- Commands (wsr.md §4): `connect` with a pending tcUrl → `_result` (unknown tcUrl → TCP closed), `createStream` →
  `_result` with a Number, `publish` → nothing, `play` → onStatus NetStream.Play.Start and three type-18 data
  messages; `deleteStream` ignored. Once publish and play both came, each WSR data message (type 15, ByteArray or
  String) is echoed on the play stream, csid 8, always as a ByteArray.
- Every message out: type-0 header, timestamp 0, type-3 continuations at chunk size 65536, ONE socket write,
  TCP_NODELAY.
- The gateway's fragility, emulated and reported: each recv() result is parsed on its own; a read that ends inside
  a chunk header (basic header, message header or extended timestamp) loses those bytes ("header split across
  reads"); a 2- or 3-byte basic header (csid 0 or 1 in the first byte) closes the connection ("multi-byte basic
  header"); a message type outside {1,3,4,5,6,15,17,18,20} closes it ("unsupported message"). A chunk's payload
  may continue into the next read.

Everything notable is printed to stdout as one JSON line (flushed): "listening", "created", "rtmp connection",
"message" (every message received: type, csid, msid, length), the fragility events above, "connection closed"
with the message types that connection sent, and on SIGTERM "types seen" for the whole run.
"""
import argparse
import json
import os
import secrets
import signal
import socket
import string
import struct
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rtmpraw as rr  # noqa: E402

ECHO_DELAY = 0.0  # --echo-delay
SUPPORTED = {1, 3, 4, 5, 6, 15, 17, 18, 20}  # wsr.md §3; anything else made the gateway close
PENDING_SECONDS = 60
OUT_CHUNK_SIZE = 65536
RECV_SIZE = 1 << 20  # large: a read ends where the data that arrived ends, not at an artificial buffer limit
PLAY_CSID = 8        # wsr.md §5: the gateway sent downstream data on csid 8
ALPHABET = string.ascii_letters + string.digits

_print_lock = threading.Lock()
_pending: dict[str, float] = {}   # created URL → deadline (monotonic)
_pending_lock = threading.Lock()
_types_seen: set[int] = set()
_types_lock = threading.Lock()


def emit(**event) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class Close(Exception):
    """End this connection (the gateway just closed TCP)."""


# ------------------------------------------------------------------------------------------------------ HTTP

def handle_http(sock: socket.socket, peer: str) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return
        data += chunk
        if len(data) > 65536:
            return
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return respond(sock, 400, "Bad Request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:  # the body (ignored) — read it so the client is not reset
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    path, sep, query = target.partition("?")
    if not path.endswith("/;e/cr"):
        emit(event="http not found", method=method, target=target)
        return respond(sock, 404, "Not Found")
    if headers.get("x-websocket-version") != "wsr-1.0":
        emit(event="http wrong version", version=headers.get("x-websocket-version"))
        return respond(sock, 501, "Not Implemented")
    extra = {}
    offered = [p.strip() for p in headers.get("x-websocket-protocol", "").split(",") if p.strip()]
    if offered:
        extra["X-WebSocket-Protocol"] = offered[0]  # this peer accepts any: the first offered
    host = headers.get("host", "")
    if not host.rsplit("]", 1)[-1].count(":"):
        host += ":80"
    base = path[: -len("/;e/cr")]
    url = f"rtmp://{host}{base}/{''.join(secrets.choice(ALPHABET) for _ in range(32))}" + (f"?{query}" if sep else "")
    with _pending_lock:
        _pending[url] = time.monotonic() + PENDING_SECONDS
    emit(event="created", method=method, url=url, subprotocol=extra.get("X-WebSocket-Protocol"), peer=peer)
    respond(sock, 201, "Created", url, extra)


def respond(sock: socket.socket, status: int, reason: str, body: str = "", extra: dict | None = None) -> None:
    b = body.encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(b)}\r\n"
            "Connection: close\r\n")
    for k, v in (extra or {}).items():
        head += f"{k}: {v}\r\n"
    sock.sendall(head.encode() + b"\r\n" + b)


def claim(url: str) -> bool:
    with _pending_lock:
        now = time.monotonic()
        for u in [u for u, deadline in _pending.items() if deadline < now]:
            del _pending[u]
        return _pending.pop(url, None) is not None


# ------------------------------------------------------------------------------------------------------ RTMP

class RTMPConnection:
    """One RTMP connection, parsed read by read the way the gateway did."""

    def __init__(self, sock: socket.socket, peer: str):
        self.sock, self.peer = sock, peer
        self.chunk_size = 128                      # inbound, until Set Chunk Size
        self.streams: dict[int, dict] = {}         # csid → last header fields
        self.partial: dict[int, bytes] = {}        # csid → message payload so far
        self.current: tuple[int, int] | None = None  # (csid, payload bytes of this chunk still to come)
        self.types: set[int] = set()
        self.next_stream_id = 1
        self.publish_id: int | None = None
        self.play_id: int | None = None
        self.data_in = 0

    # -- output: one message, one write
    def send_message(self, csid: int, type_id: int, payload: bytes, msid: int = 0) -> None:
        self.sock.sendall(rr.chunk(csid, type_id, payload, msid=msid, chunk_size=OUT_CHUNK_SIZE))

    def send_command(self, *values, msid: int = 0) -> None:
        self.send_message(rr.COMMAND_CSID, rr.AMF0_COMMAND, rr.amf0(*values), msid)

    # -- handshake
    def recv_exact(self, n: int, have: bytes) -> bytes:
        while len(have) < n:
            chunk = self.sock.recv(RECV_SIZE)
            if not chunk:
                raise Close("EOF during the handshake")
            have += chunk
        return have

    def run(self) -> None:
        emit(event="rtmp connection", peer=self.peer)
        buf = self.recv_exact(1, b"")
        if buf[0] != rr.VERSION:
            raise Close(f"C0 is {buf[0]}")
        self.sock.sendall(bytes([rr.VERSION]) + b"\x00" * rr.PACKET)  # S0 + S1 (zeros)
        buf = self.recv_exact(1 + rr.PACKET, buf)
        c1 = buf[1:1 + rr.PACKET]
        t = struct.unpack(">I", c1[:4])[0]
        self.sock.sendall(c1[:4] + struct.pack(">I", (t + 1) & 0xFFFFFFFF) + c1[8:])  # S2
        buf = self.recv_exact(1 + 2 * rr.PACKET, buf)  # C2, content ignored
        self.send_message(rr.CONTROL_CSID, rr.SET_CHUNK_SIZE, struct.pack(">I", OUT_CHUNK_SIZE))
        emit(event="handshake done", c1_version=c1[4:8].hex())
        rest = buf[1 + 2 * rr.PACKET:]
        if rest:  # what came in the same read as the end of C2 is that read's chunk data
            self.feed(rest)
        while True:
            data = self.sock.recv(RECV_SIZE)
            if not data:
                raise Close("EOF")
            self.feed(data)

    # -- the gateway's chunk parsing: each read on its own
    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while True:
            if self.current is not None:
                csid, left = self.current
                take = min(left, n - pos)
                self.partial[csid] = self.partial.get(csid, b"") + data[pos:pos + take]
                pos += take
                if take < left:  # the payload goes on in the next read: fine
                    self.current = (csid, left - take)
                    return
                self.current = None
                st = self.streams[csid]
                if len(self.partial[csid]) >= st["length"]:
                    payload = self.partial.pop(csid)
                    self.dispatch(csid, st, payload)
            if pos == n:
                return
            b0 = data[pos]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid in (0, 1):
                emit(event="multi-byte basic header", first_byte=b0, offset=pos)
                raise Close("multi-byte basic header")
            st = self.streams.get(csid)
            hlen = 1 + (11, 7, 3, 0)[fmt]
            if n - pos >= hlen and fmt <= 2:
                ext = int.from_bytes(data[pos + 1:pos + 4], "big") == 0xFFFFFF
            else:
                ext = bool(st and st["ext"]) if fmt == 3 else False
            if n - pos < hlen + (4 if ext else 0):
                emit(event="header split across reads", got=n - pos, header=hlen + (4 if ext else 0), fmt=fmt,
                     csid=csid, read_length=n)
                return  # those bytes are lost, as they were in the gateway
            if st is None and fmt != 0:
                emit(event="parse error", why=f"type-{fmt} header on unknown chunk stream {csid}")
                raise Close("parse error")
            st = dict(st or {"ts": 0, "length": 0, "type": 0, "msid": 0, "ext": False})
            h = data[pos + 1:pos + hlen]
            if fmt <= 2:
                st["ts_field"] = int.from_bytes(h[0:3], "big")
                st["ext"] = ext
            if fmt <= 1:
                st["length"], st["type"] = int.from_bytes(h[3:6], "big"), h[6]
            if fmt == 0:
                st["msid"] = struct.unpack("<I", h[7:11])[0]
            pos += hlen + (4 if ext else 0)
            if fmt != 3 and self.partial.get(csid):
                emit(event="parse error", why=f"type-{fmt} header inside a message on chunk stream {csid}")
                raise Close("parse error")
            self.streams[csid] = st
            have = len(self.partial.get(csid, b""))
            self.current = (csid, min(self.chunk_size, st["length"] - have))
            self.partial.setdefault(csid, b"")

    # -- messages
    def dispatch(self, csid: int, st: dict, payload: bytes) -> None:
        type_id, msid = st["type"], st["msid"]
        self.types.add(type_id)
        with _types_lock:
            _types_seen.add(type_id)
        emit(event="message", type=type_id, csid=csid, msid=msid, length=len(payload))
        if type_id not in SUPPORTED:
            emit(event="unsupported message", type=type_id)
            raise Close(f"unsupported message type {type_id}")
        if type_id == rr.SET_CHUNK_SIZE:
            if len(payload) >= 4:
                self.chunk_size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                emit(event="set chunk size", size=self.chunk_size)
        elif type_id in (rr.AMF0_COMMAND, rr.AMF3_COMMAND):
            self.command(payload[1:] if type_id == rr.AMF3_COMMAND else payload, msid)
        elif type_id == rr.AMF3_DATA:
            self.data(payload)
        # 3, 4, 5, 6, 18: accepted and ignored (the gateway did no flow control)

    def command(self, body: bytes, msid: int) -> None:
        try:
            values = rr.decode_amf0(body)
        except (ValueError, UnicodeDecodeError) as e:
            emit(event="bad command", why=str(e), hex=body[:64].hex())
            raise Close("bad command")
        name = values[0] if values else None
        txid = values[1] if len(values) > 1 else 0
        emit(event="command", name=name if isinstance(name, str) else repr(name), msid=msid)
        if name == "connect":
            obj = values[2] if len(values) > 2 and isinstance(values[2], dict) else {}
            tc_url = obj.get("tcUrl")
            if not isinstance(tc_url, str) or not claim(tc_url):
                emit(event="unknown tcUrl", tcUrl=repr(tc_url))
                raise Close("unknown tcUrl")
            emit(event="connected", tcUrl=tc_url, app=repr(obj.get("app")),
                 objectEncoding=repr(obj.get("objectEncoding")))
            self.send_command("_result", txid, None, {
                "level": "Status", "code": "NetConnection.Connect.Success", "description": "Connection succeeded",
                "details": None, "objectEncoding": 3})
        elif name == "createStream":
            sid = self.next_stream_id
            self.next_stream_id += 1
            emit(event="stream created", id=sid)
            self.send_command("_result", txid, None, float(sid))
        elif name == "publish":
            self.publish_id = msid
            emit(event="publish", msid=msid, open=self.is_open)
        elif name == "play":
            self.play_id = msid
            self.send_command("onStatus", txid, None, {
                "level": "status", "code": "NetStream.Play.Start", "description": "Started playing stream",
                "details": None})
            for s in ("|RtmpSampleAccess", "onStatus", "onMetaData"):
                self.send_message(rr.COMMAND_CSID + 2, rr.AMF0_DATA, rr.amf0(s), msid)
            emit(event="play", msid=msid, open=self.is_open)
        # deleteStream and anything else: ignored, as the gateway did

    @property
    def is_open(self) -> bool:
        return self.publish_id is not None and self.play_id is not None

    def data(self, body: bytes) -> None:
        if not self.is_open:
            emit(event="data before open", length=len(body))
            return
        try:
            payload = rr.wsr_payload(body)
        except (ValueError, IndexError) as e:
            emit(event="bad data message", why=str(e))
            raise Close("bad data message")
        self.data_in += 1
        emit(event="data", n=self.data_in, marker=body[6], length=len(payload))
        time.sleep(ECHO_DELAY)
        self.send_message(PLAY_CSID, rr.AMF3_DATA, rr.wsr_data(payload), self.play_id)  # always ByteArray


# ---------------------------------------------------------------------------------------------------- server

def handle(sock: socket.socket, addr) -> None:
    peer = f"{addr[0]}:{addr[1]}"
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = None
    why = "done"
    try:
        first = sock.recv(1, socket.MSG_PEEK)
        if not first:
            return  # a readiness probe
        if first[0] == rr.VERSION:
            conn = RTMPConnection(sock, peer)
            conn.run()
        else:
            handle_http(sock, peer)
    except Close as e:
        why = str(e)
    except OSError as e:
        why = f"socket error: {e}"
    finally:
        if conn is not None:
            emit(event="connection closed", peer=peer, why=why, types=sorted(conn.types), data_messages=conn.data_in)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default=rr.HOST)
    ap.add_argument("--pending", action="append", default=[],
                    help="register this URL as a created session (to replay captures)")
    ap.add_argument("--echo-delay", type=float, default=0.0,
                    help="seconds to wait before each echo (a server with a backlog)")
    args = ap.parse_args()
    global ECHO_DELAY
    ECHO_DELAY = args.echo_delay
    for url in args.pending:
        _pending[url] = time.monotonic() + PENDING_SECONDS

    def stop(*_):
        with _types_lock:
            emit(event="types seen", types=sorted(_types_seen))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(64)
    emit(event="listening", host=args.host, port=args.port)
    while True:
        sock, addr = listener.accept()
        threading.Thread(target=handle, args=(sock, addr), daemon=True).start()


if __name__ == "__main__":
    main()
