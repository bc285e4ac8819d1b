#!/usr/bin/env python3
"""A small, independent MSRP client for interop tests (RFC 4975 MSRP, RFC 4976 relays, RFC 7977 WebSocket).

Library (asyncio):
    c = await MsrpClient.connect_ws("ws://127.0.0.1:P/msrp")      # subprotocol "msrp"
    c = await MsrpClient.connect_tcp("127.0.0.1", P)              # plain MSRP over TCP
    use_path, expires = await c.auth(username="alice", password="secret")   # RFC 4976 AUTH (+ Digest)
    await c.send_message(use_path + peer_path, b"hello", chunk_size=1000)   # SEND, chunked by Byte-Range
    msg = await c.wait_message(timeout=5)                          # incoming SENDs, reassembled
    await c.close()
    srv = await MsrpEndpoint.listen_tcp("127.0.0.1", 0)            # a directly reachable endpoint

CLI (for people): see `python msrp_client.py -h`, e.g.
    msrp_client.py --ws ws://127.0.0.1:P/ auth
    msrp_client.py --ws ws://127.0.0.1:P/ listen
    msrp_client.py --tcp 127.0.0.1:P send --to-path "msrp://127.0.0.1:P/sid;tcp msrp://..." --text hello

Only the standard library plus `websockets` (for the WebSocket leg). One MSRP chunk per WebSocket
message, text frame when the chunk is valid UTF-8, else binary. Frames are sent exactly as built, so a
test can also push hand-made (even invalid) bytes with `send_raw`.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import re
import secrets
import sys
import time
from dataclasses import dataclass, field

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_SEQ = itertools.count()  # orders frames across all clients of a process (MsrpClient.wire)
CRLF = b"\r\n"
END_PREFIX = b"-------"


# --- identifiers ---------------------------------------------------------------------------------------

def _alnum(n: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(n))


def new_tid() -> str:
    """A transaction id: 16 random base-36 characters (≈ 82 bits ≥ 64; RFC 4975 §7.1)."""
    return _alnum(16)


def new_session_id() -> str:
    """A session id for an MSRP URI: 20 base-36 characters (≈ 103 bits ≥ 80; RFC 4975 §14.1)."""
    return _alnum(20)


def new_message_id() -> str:
    return _alnum(16)


# --- URIs (RFC 4975 §6) --------------------------------------------------------------------------------

_URI_RE = re.compile(r"^(msrps?)://(?:([^@/;]*)@)?(\[[^\]]+\]|[^:/;]+)(?::(\d+))?(?:/([^;]*))?;([^;]+)(;.*)?$",
                     re.IGNORECASE)


@dataclass(frozen=True)
class MsrpUri:
    scheme: str
    host: str
    port: int | None
    session: str | None
    transport: str
    userinfo: str | None = None
    params: str = ""

    @classmethod
    def parse(cls, s: str) -> "MsrpUri":
        m = _URI_RE.match(s.strip())
        if not m:
            raise ValueError(f"not an MSRP URI: {s!r}")
        scheme, user, host, port, sess, transport, params = m.groups()
        return cls(scheme.lower(), host, int(port) if port else None, sess or None, transport,
                   user, params or "")

    def same(self, other: "MsrpUri") -> bool:
        """RFC 4975 §6.1: scheme/host/transport case-insensitive, userinfo ignored, ports must match if
        given (absent = 2855), session id case-sensitive."""
        return (self.scheme == other.scheme and self.host.lower() == other.host.lower()
                and (self.port or 2855) == (other.port or 2855) and self.session == other.session
                and self.transport.lower() == other.transport.lower())

    def __str__(self) -> str:
        s = f"{self.scheme}://"
        if self.userinfo:
            s += f"{self.userinfo}@"
        s += self.host
        if self.port:
            s += f":{self.port}"
        if self.session:
            s += f"/{self.session}"
        return s + f";{self.transport}{self.params}"


def split_path(value: str) -> list[str]:
    return value.split()


# --- messages (RFC 4975 §7, §9) ------------------------------------------------------------------------

@dataclass
class Message:
    """One MSRP request or response (one chunk). `method` is set for requests, `code` for responses."""
    tid: str
    method: str | None = None
    code: int | None = None
    comment: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None   # None: no Content-Type/body section at all
    flag: str = "$"             # "$" last chunk, "+" more to come, "#" aborted
    raw: bytes = b""            # the bytes this was parsed from (empty when built locally)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def header(self, name: str) -> str | None:
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return None

    def set_header(self, name: str, value: str) -> None:
        n = name.lower()
        for i, (k, _) in enumerate(self.headers):
            if k.lower() == n:
                self.headers[i] = (name, value)
                return
        self.headers.append((name, value))

    @property
    def to_path(self) -> list[str]:
        return split_path(self.header("To-Path") or "")

    @property
    def from_path(self) -> list[str]:
        return split_path(self.header("From-Path") or "")

    def byte_range(self) -> tuple[int, int | None, int | None]:
        """(start, end, total) from Byte-Range; None for '*'. Default 1-*/* when absent."""
        v = self.header("Byte-Range")
        if not v:
            return 1, None, None
        m = re.fullmatch(r"\s*(\d+)-(\d+|\*)/(\d+|\*)\s*", v)
        if not m:
            raise ValueError(f"bad Byte-Range {v!r}")
        end = None if m.group(2) == "*" else int(m.group(2))
        total = None if m.group(3) == "*" else int(m.group(3))
        return int(m.group(1)), end, total

    def encode(self) -> bytes:
        """Wire bytes. Headers are written in the order given (put To-Path, From-Path first); when a body
        is present Content-Type must be among the headers and comes last (RFC 4975 §9 grammar)."""
        if self.is_request:
            start = f"MSRP {self.tid} {self.method}"
        else:
            start = f"MSRP {self.tid} {self.code:03d}" + (f" {self.comment}" if self.comment else "")
        hdrs = [(k, v) for k, v in self.headers if self.body is None or k.lower() != "content-type"]
        lines = [start] + [f"{k}: {v}" for k, v in hdrs]
        out = CRLF.join(x.encode() for x in lines) + CRLF
        if self.body is not None:
            ct = self.header("Content-Type") or "text/plain"
            out += f"Content-Type: {ct}".encode() + CRLF + CRLF + self.body + CRLF
        return out + END_PREFIX + self.tid.encode() + self.flag.encode() + CRLF


class ParseError(ValueError):
    pass


_TID_RE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}")


def _parse_frame(frame: bytes, head_end: int, end_at: int, tid: bytes) -> Message:
    """frame[0:end_at] is everything before the CRLF that precedes the end-line."""
    start_line, _, rest = frame[:head_end].partition(CRLF)
    parts = start_line.decode("utf-8", "replace").split(" ", 3)
    if len(parts) < 3 or parts[0] != "MSRP":
        raise ParseError(f"bad start line {start_line!r}")
    msg = Message(tid=parts[1])
    if re.fullmatch(r"\d{3}", parts[2]):
        msg.code = int(parts[2])
        msg.comment = " ".join(parts[3:]) or None
    else:
        if len(parts) != 3:
            raise ParseError(f"bad request line {start_line!r}")
        msg.method = parts[2]
    header_blob = rest
    if head_end < end_at:  # there is a body section: headers, CRLF CRLF, data
        sep = frame.find(CRLF + CRLF, len(start_line), end_at + 2)
        header_blob = frame[len(start_line) + 2:sep]
        msg.body = frame[sep + 4:end_at]
    for line in header_blob.split(CRLF):
        if not line:
            continue
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon:
            raise ParseError(f"bad header line {line!r}")
        msg.headers.append((name.strip(), value.strip()))
    flag_pos = end_at + 2 + len(END_PREFIX) + len(tid)
    msg.flag = chr(frame[flag_pos])
    msg.raw = frame[:flag_pos + 3]
    return msg


class StreamParser:
    """Incremental parser for a byte stream (TCP). feed() returns the complete messages."""

    def __init__(self, max_frame: int = 16 * 1024 * 1024):
        self.buf = bytearray()
        self.max_frame = max_frame

    def feed(self, data: bytes) -> list[Message]:
        self.buf += data
        out = []
        while True:
            m = self._one()
            if m is None:
                break
            out.append(m)
        return out

    def _one(self) -> Message | None:
        buf = self.buf
        # tolerate stray CRLFs between frames
        while buf[:2] == CRLF:
            del buf[:2]
        nl = buf.find(CRLF)
        if nl < 0:
            if len(buf) > 1024:
                raise ParseError("no start line in 1024 bytes")
            return None
        start = bytes(buf[:nl])
        m = re.match(rb"MSRP (\S+) ", start + b" ")
        if not m or not _TID_RE.fullmatch(m.group(1)):
            raise ParseError(f"bad start line {start!r}")
        tid = m.group(1)
        end_pat = CRLF + END_PREFIX + tid
        pos = nl
        while True:
            i = buf.find(end_pat, pos)
            if i < 0:
                if len(buf) > self.max_frame:
                    raise ParseError("frame too large")
                return None
            j = i + len(end_pat)
            if len(buf) < j + 3:
                return None
            if buf[j:j + 1] in (b"$", b"+", b"#") and buf[j + 1:j + 3] == CRLF:
                break
            pos = i + 1
        frame = bytes(buf[:j + 3])
        del buf[:j + 3]
        # headers end at the first CRLF CRLF (body section) unless the end-line comes first
        hb = frame.find(CRLF + CRLF, nl)
        head_end = hb if 0 <= hb < i else i
        return _parse_frame(frame, head_end, i, tid)


def parse_message(data: bytes) -> Message:
    """Parse exactly one MSRP message (e.g. one WebSocket message); trailing bytes are an error."""
    p = StreamParser()
    msgs = p.feed(data)
    if len(msgs) != 1 or p.buf.strip(b"\r\n"):
        raise ParseError(f"expected one MSRP message, got {len(msgs)} and {len(p.buf)} extra bytes")
    return msgs[0]


def escape(b: bytes) -> str:
    """Bytes shown as an ASCII string with \\r \\n \\xNN escapes (for captures and traces)."""
    out = []
    for c in b:
        if c == 13:
            out.append("\\r")
        elif c == 10:
            out.append("\\n\n")
        elif c == 0x5C:
            out.append("\\\\")
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


# --- Digest (RFC 2617, as used by RFC 4976 §5) -----------------------------------------------------------

def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def parse_challenge(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ValueError(f"not a Digest challenge: {value!r}")
    out = {}
    for m in re.finditer(r'([\w-]+)\s*=\s*(?:"([^"]*)"|([^\s,]*))', rest):
        out[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return out


def digest_authorization(chal: dict[str, str], username: str, password: str, method: str, uri: str,
                         nc: int = 1, cnonce: str | None = None) -> str:
    realm, nonce = chal.get("realm", ""), chal["nonce"]
    alg = chal.get("algorithm", "MD5")
    if alg.upper() not in ("MD5",):
        raise ValueError(f"unsupported digest algorithm {alg}")
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    qops = [q.strip() for q in chal.get("qop", "").split(",") if q.strip()]
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in qops:
        ncs = f"{nc:08x}"
        resp = _md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        parts += [f'response="{resp}"', "qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        parts.append(f'response="{_md5(f"{ha1}:{nonce}:{ha2}")}"')
    parts.append(f"algorithm={alg}")
    if "opaque" in chal:
        parts.append(f'opaque="{chal["opaque"]}"')
    return "Digest " + ", ".join(parts)


# --- transports ----------------------------------------------------------------------------------------

class Transport:
    """One connection carrying MSRP frames."""
    kind = "?"

    async def send(self, data: bytes) -> None: ...
    async def recv(self) -> list[Message]: ...   # [] = closed
    async def close(self) -> None: ...


class TcpTransport(Transport):
    kind = "tcp"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.parser = StreamParser()
        self.local = writer.get_extra_info("sockname")
        self.peer = writer.get_extra_info("peername")

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self) -> list[Message]:
        while True:
            data = await self.reader.read(65536)
            if not data:
                return []
            msgs = self.parser.feed(data)
            if msgs:
                return msgs

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


class WsTransport(Transport):
    kind = "ws"

    def __init__(self, ws):
        self.ws = ws
        self.local = ws.local_address
        self.peer = ws.remote_address
        self.binary_in = 0  # count of binary WebSocket messages received

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send(data.decode("utf-8"))   # text frame when the chunk is UTF-8 (RFC 7977 §4.2)
        except UnicodeDecodeError:
            await self.ws.send(data)

    async def recv(self) -> list[Message]:
        import websockets
        try:
            m = await self.ws.recv()
        except websockets.ConnectionClosed:
            return []
        if isinstance(m, str):
            m = m.encode("utf-8")
        else:
            self.binary_in += 1
        return [parse_message(m)]

    async def close(self) -> None:
        await self.ws.close()


# --- client / endpoint ---------------------------------------------------------------------------------

class MsrpError(Exception):
    def __init__(self, response: Message | None, text: str = ""):
        self.response = response
        super().__init__(text or (f"MSRP {response.code} {response.comment or ''}".strip() if response else "?"))


@dataclass
class Incoming:
    """A message received as one or more SEND chunks with the same Message-ID."""
    message_id: str
    from_path: list[str]
    to_path: list[str]
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)
    total: int | None = None
    received: int = 0
    chunks: int = 0
    complete: bool = False
    aborted: bool = False
    requests: list[Message] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return bytes(self.data)


class MsrpClient:
    """An MSRP endpoint on one connection (TCP or WebSocket). A reader task answers incoming SENDs with
    200 (RFC 4975: not when Failure-Report is "no" or "partial"), collects their bodies per Message-ID and
    collects REPORTs; responses to our requests complete the matching tid's future."""

    def __init__(self, transport: Transport, local_uri: MsrpUri, relay_uri: str | None = None,
                 trace=None, auto_success_report: bool = True, strict_to_path: bool = False):
        self.t = transport
        self.strict_to_path = strict_to_path  # 481 a SEND whose last To-Path URI is not ours
        self.uri = local_uri
        self.relay_uri = relay_uri
        self.trace = trace              # callable(direction, bytes) or None
        self.auto_success_report = auto_success_report
        self.use_path: list[str] = []
        self.expires: int | None = None
        self.pending: dict[str, asyncio.Future] = {}
        self.messages: dict[str, Incoming] = {}
        self.completed: asyncio.Queue[Incoming] = asyncio.Queue()
        self.reports: list[Message] = []
        self.report_event = asyncio.Event()
        self.requests_in: list[Message] = []    # every request received (SEND, REPORT, others)
        self.responses_in: list[Message] = []   # every response received, matched or not
        self.unmatched: list[Message] = []      # responses with no pending tid
        self.frames_out: list[bytes] = []
        self.frames_in: list[bytes] = []
        self.wire: list[tuple[int, str, bytes]] = []   # (global sequence, ">>" sent / "<<" received, bytes)
        self.closed = asyncio.Event()
        self.error: BaseException | None = None
        self._reader = asyncio.create_task(self._read_loop())

    # construction ---------------------------------------------------------------------------------
    @classmethod
    async def connect_ws(cls, url: str, *, session_id: str | None = None, headers=None,
                         max_size: int | None = 16 * 1024 * 1024, **kw) -> "MsrpClient":
        from websockets.asyncio.client import connect
        ws = await connect(url, subprotocols=["msrp"], compression=None, proxy=None,
                           additional_headers=headers, max_size=max_size, ping_interval=None)
        if ws.subprotocol != "msrp":
            await ws.close()
            raise MsrpError(None, f"server did not select subprotocol msrp (got {ws.subprotocol!r})")
        secure = url.startswith("wss:")
        # RFC 7977 §5.2.1 / App. A: a WebSocket client's own URI uses a random .invalid host and ;ws
        local = MsrpUri("msrps" if secure else "msrp", f"{_alnum(12)}.invalid", 2855,
                        session_id or new_session_id(), "ws")
        m = re.match(r"wss?://([^/:]+|\[[^\]]+\])(?::(\d+))?", url)
        host, port = m.group(1), int(m.group(2) or (443 if secure else 80))
        if kw.get("relay_uri") is None:
            kw["relay_uri"] = f"{'msrps' if secure else 'msrp'}://{host}:{port};ws"
        return cls(WsTransport(ws), local, **kw)

    @classmethod
    async def connect_tcp(cls, host: str, port: int, *, session_id: str | None = None, **kw) -> "MsrpClient":
        reader, writer = await asyncio.open_connection(host, port)
        lh, lp = writer.get_extra_info("sockname")[:2]
        local = MsrpUri("msrp", lh, lp, session_id or new_session_id(), "tcp")
        if kw.get("relay_uri") is None:
            kw["relay_uri"] = f"msrp://{host}:{port};tcp"
        return cls(TcpTransport(reader, writer), local, **kw)

    # io -------------------------------------------------------------------------------------------
    async def send_raw(self, data: bytes) -> None:
        self.frames_out.append(data)
        self.wire.append((next(_SEQ), ">>", data))
        if self.trace:
            self.trace(">>", data, self)
        await self.t.send(data)

    async def _read_loop(self):
        try:
            while True:
                msgs = await self.t.recv()
                if not msgs:
                    break
                for m in msgs:
                    self.frames_in.append(m.raw)
                    self.wire.append((next(_SEQ), "<<", m.raw))
                    if self.trace:
                        self.trace("<<", m.raw, self)
                    await self._dispatch(m)
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception as e:  # parse errors etc.: remember and stop
            self.error = e
        finally:
            self.closed.set()
            for f in self.pending.values():
                if not f.done():
                    f.set_exception(MsrpError(None, f"connection closed ({self.error or 'eof'})"))

    async def _dispatch(self, m: Message):
        if not m.is_request:
            self.responses_in.append(m)
            f = self.pending.pop(m.tid, None)
            if f and not f.done():
                f.set_result(m)
            else:
                self.unmatched.append(m)
            return
        self.requests_in.append(m)
        if m.method == "SEND":
            await self._on_send(m)
        elif m.method == "REPORT":
            self.reports.append(m)   # never answered (RFC 4975 §7.1.2)
            self.report_event.set()
        else:
            await self.respond(m, 501, "Unknown method")

    async def respond(self, req: Message, code: int, comment: str | None = None, extra=()):
        """Response per RFC 4975 §7.2: To-Path = the previous hop (the first From-Path URI) for SEND,
        the whole From-Path for other methods; From-Path = our URI."""
        to = req.from_path[:1] if req.method == "SEND" else req.from_path
        r = Message(tid=req.tid, code=code, comment=comment,
                    headers=[("To-Path", " ".join(to)), ("From-Path", str(self.uri)), *extra])
        await self.send_raw(r.encode())

    async def _on_send(self, m: Message):
        fr = (m.header("Failure-Report") or "yes").lower()
        if self.strict_to_path:
            try:
                mine = MsrpUri.parse(m.to_path[-1]).same(self.uri)
            except (ValueError, IndexError):
                mine = False
            if not mine:
                if fr != "no":
                    await self.respond(m, 481, "Not my session")
                return
        mid = m.header("Message-ID")
        if not mid:
            if fr != "no":
                await self.respond(m, 400, "Message-ID missing")
            return
        try:
            start, end, total = m.byte_range()
        except ValueError:
            if fr != "no":
                await self.respond(m, 400, "bad Byte-Range")
            return
        inc = self.messages.get(mid)
        if inc is None:
            inc = Incoming(mid, m.from_path, m.to_path, m.header("Content-Type"))
            self.messages[mid] = inc
        inc.requests.append(m)
        inc.chunks += 1
        body = m.body or b""
        if inc.content_type is None:
            inc.content_type = m.header("Content-Type")
        if total is not None:
            inc.total = total
        need = start - 1 + len(body)
        if len(inc.data) < need:
            inc.data.extend(b"\0" * (need - len(inc.data)))
        inc.data[start - 1:need] = body
        inc.received += len(body)
        if fr == "yes":
            await self.respond(m, 200, "OK")
        if m.flag == "#":
            inc.aborted = True
            await self.completed.put(inc)
        elif m.flag == "$" and (inc.total is None or inc.received >= inc.total):
            inc.complete = True
            await self.completed.put(inc)
            if self.auto_success_report and (m.header("Success-Report") or "no").lower() == "yes":
                await self.send_report(m.from_path, mid, f"1-{len(inc.data)}/{len(inc.data)}", "000 200 OK")

    # requests -------------------------------------------------------------------------------------
    async def request(self, msg: Message, timeout: float = 10.0, expect_response: bool = True) -> Message | None:
        f = None
        if expect_response:
            f = asyncio.get_running_loop().create_future()
            self.pending[msg.tid] = f
        await self.send_raw(msg.encode())
        if f is None:
            return None
        try:
            return await asyncio.wait_for(f, timeout)
        finally:
            self.pending.pop(msg.tid, None)

    async def auth(self, relay_uri: str | None = None, *, username: str | None = None,
                   password: str | None = None, expires: int | None = None,
                   digest_method: str = "AUTH", timeout: float = 10.0) -> tuple[list[str], int | None]:
        """AUTH to the relay (RFC 4976 §5). Answers one 401 Digest challenge when credentials are given.
        Returns (Use-Path URIs, Expires). Raises MsrpError on any other final response."""
        relay = relay_uri or self.relay_uri
        nc = 0
        authz = None
        for _ in range(3):
            hdrs = [("To-Path", relay), ("From-Path", str(self.uri))]
            if authz:
                hdrs.append(("Authorization", authz))
            if expires is not None:
                hdrs.append(("Expires", str(expires)))
            r = await self.request(Message(tid=new_tid(), method="AUTH", headers=hdrs), timeout)
            if r.code == 401 and username is not None and authz is None:
                chal = parse_challenge(r.header("WWW-Authenticate") or "")
                nc += 1
                authz = digest_authorization(chal, username, password or "", digest_method, relay, nc)
                continue
            if r.code != 200:
                raise MsrpError(r)
            up = r.header("Use-Path")
            if not up:
                raise MsrpError(r, "200 to AUTH without Use-Path")
            self.use_path = split_path(up)
            ex = r.header("Expires")
            self.expires = int(ex) if ex and ex.strip().isdigit() else None
            self.last_auth_response = r
            return self.use_path, self.expires
        raise MsrpError(r)

    async def send_message(self, to_path: list[str] | str, body: bytes | str, *,
                           content_type: str = "text/plain", chunk_size: int | None = None,
                           message_id: str | None = None, success_report: str | None = None,
                           failure_report: str | None = None, extra_headers=(),
                           timeout: float = 10.0, total_known: bool = True) -> list[Message | None]:
        """SEND `body` to `to_path` (list or space-separated string), split into chunks of at most
        chunk_size bytes (Byte-Range start-end/total, '+' on all but the last). Waits for each chunk's
        response unless Failure-Report is no/partial; raises MsrpError on a non-200."""
        if isinstance(to_path, str):
            to_path = split_path(to_path)
        if isinstance(body, str):
            body = body.encode()
        mid = message_id or new_message_id()
        total = len(body)
        size = chunk_size or max(total, 1)
        out = []
        offsets = list(range(0, total, size)) or [0]
        expect = (failure_report or "yes").lower() == "yes"
        for n, off in enumerate(offsets):
            piece = body[off:off + size]
            last = n == len(offsets) - 1
            tid = new_tid()
            while tid.encode() in piece:
                tid = new_tid()
            end = off + len(piece)
            br = f"{off + 1}-{end}/{total}" if total_known else f"{off + 1}-{end if last else '*'}/{total if last else '*'}"
            if total == 0:
                br = "1-0/0"
            hdrs = [("To-Path", " ".join(to_path)), ("From-Path", str(self.uri)), ("Message-ID", mid)]
            if success_report:
                hdrs.append(("Success-Report", success_report))
            if failure_report:
                hdrs.append(("Failure-Report", failure_report))
            hdrs.append(("Byte-Range", br))
            hdrs.extend(extra_headers)
            hdrs.append(("Content-Type", content_type))
            msg = Message(tid=tid, method="SEND", headers=hdrs, body=piece, flag="$" if last else "+")
            r = await self.request(msg, timeout, expect_response=expect)
            if r is not None and r.code != 200:
                raise MsrpError(r)
            out.append(r)
        return out

    async def send_report(self, to_path: list[str], message_id: str, byte_range: str, status: str):
        hdrs = [("To-Path", " ".join(to_path)), ("From-Path", str(self.uri)), ("Message-ID", message_id),
                ("Byte-Range", byte_range), ("Status", status)]
        await self.request(Message(tid=new_tid(), method="REPORT", headers=hdrs), expect_response=False)

    # waiting --------------------------------------------------------------------------------------
    async def wait_message(self, timeout: float = 10.0) -> Incoming:
        """The next complete (or aborted) incoming message."""
        return await asyncio.wait_for(self.completed.get(), timeout)

    async def wait_report(self, timeout: float = 10.0, n: int = 1) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.reports) < n:
            self.report_event.clear()
            await asyncio.wait_for(self.report_event.wait(), max(0.0, deadline - time.monotonic()))
        return self.reports

    def path_for_peers(self) -> list[str]:
        """The To-Path a peer uses to reach us: our Use-Path, then our own URI."""
        return [*self.use_path, str(self.uri)]

    async def close(self):
        try:
            await self.t.close()
        finally:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass


class MsrpEndpoint:
    """A directly reachable MSRP endpoint: listens on TCP; each accepted connection gets an MsrpClient
    that shares this endpoint's URI (session id), so a relay can open a connection to it."""

    def __init__(self, host: str, session_id: str | None = None, trace=None):
        self.host = host
        self.session_id = session_id or new_session_id()
        self.trace = trace
        self.server: asyncio.base_events.Server | None = None
        self.clients: list[MsrpClient] = []
        self.completed: asyncio.Queue[Incoming] = asyncio.Queue()
        self.uri: MsrpUri | None = None

    @classmethod
    async def listen_tcp(cls, host: str = "127.0.0.1", port: int = 0, **kw) -> "MsrpEndpoint":
        ep = cls(host, **kw)
        ep.server = await asyncio.start_server(ep._accept, host, port)
        p = ep.server.sockets[0].getsockname()[1]
        ep.uri = MsrpUri("msrp", host, p, ep.session_id, "tcp")
        return ep

    async def _accept(self, reader, writer):
        c = MsrpClient(TcpTransport(reader, writer), self.uri, trace=self.trace)
        self.clients.append(c)

        async def pump():
            while True:
                inc = await c.completed.get()
                await self.completed.put(inc)
        t = asyncio.create_task(pump())
        await c.closed.wait()
        t.cancel()

    async def wait_message(self, timeout: float = 10.0) -> Incoming:
        return await asyncio.wait_for(self.completed.get(), timeout)

    async def close(self):
        for c in self.clients:
            await c.close()
        if self.server:
            self.server.close()
            await self.server.wait_closed()


# --- CLI -----------------------------------------------------------------------------------------------

def _printer(direction: str, data: bytes, client: MsrpClient):
    sys.stderr.write(f"--- {direction} {client.t.kind} {len(data)} bytes\n{escape(data)}\n")
    sys.stderr.flush()


async def _cli(a) -> int:
    trace = _printer if a.trace else None
    if a.ws:
        c = await MsrpClient.connect_ws(a.ws, trace=trace, relay_uri=a.relay)
    else:
        host, _, port = a.tcp.rpartition(":")
        c = await MsrpClient.connect_tcp(host, int(port), trace=trace, relay_uri=a.relay)
    try:
        print(f"local-uri: {c.uri}")
        if a.cmd == "auth" or not a.no_auth:
            use_path, expires = await c.auth(username=a.user, password=a.password, expires=a.expires,
                                             digest_method=a.digest_method)
            print(f"use-path: {' '.join(use_path)}")
            print(f"expires: {expires}")
            print(f"reach-me: {' '.join(c.path_for_peers())}")
            sys.stdout.flush()
        if a.cmd == "auth":
            return 0
        if a.cmd == "send":
            if a.text is not None:
                body = a.text.encode()
            elif a.file:
                body = open(a.file, "rb").read()
            else:
                body = bytes((i % 251) for i in range(a.size))
            path = split_path(a.to_path)
            if c.use_path and not a.raw_path:
                path = c.use_path + path
            rs = await c.send_message(path, body, content_type=a.content_type, chunk_size=a.chunk,
                                      success_report=a.success_report, failure_report=a.failure_report)
            codes = " ".join(str(r.code) if r else "-" for r in rs)
            print(f"sent {len(body)} bytes in {len(rs)} chunk(s) to {' '.join(path)}: responses {codes}")
            if a.success_report == "yes":
                try:
                    reps = await c.wait_report(a.timeout)
                    for r in reps:
                        print(f"report: {r.header('Message-ID')} {r.header('Byte-Range')} {r.header('Status')}")
                except asyncio.TimeoutError:
                    print("no REPORT")
                    return 1
            return 0
        if a.cmd == "listen":
            n = 0
            deadline = time.monotonic() + a.timeout if a.timeout else None
            while a.count == 0 or n < a.count:
                left = deadline - time.monotonic() if deadline else None
                if left is not None and left <= 0:
                    break
                try:
                    inc = await asyncio.wait_for(c.completed.get(), left)
                except asyncio.TimeoutError:
                    break
                n += 1
                body = inc.body
                try:
                    shown = body.decode("utf-8")
                    if len(shown) > 200:
                        shown = shown[:200] + "..."
                except UnicodeDecodeError:
                    shown = f"<{len(body)} bytes binary, md5 {hashlib.md5(body).hexdigest()}>"
                state = "aborted" if inc.aborted else "complete"
                print(f"message {inc.message_id} {state} {len(body)} bytes in {inc.chunks} chunk(s) "
                      f"({inc.content_type}) from {' '.join(inc.from_path)}: {shown}")
                sys.stdout.flush()
            for r in c.reports:
                print(f"report: {r.header('Message-ID')} {r.header('Byte-Range')} {r.header('Status')}")
            return 0 if a.count == 0 or n >= a.count else 1
    except MsrpError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        await c.close()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--ws", metavar="URL", help="WebSocket URL (subprotocol msrp), e.g. ws://127.0.0.1:P/")
    g.add_argument("--tcp", metavar="HOST:PORT", help="plain MSRP over TCP")
    ap.add_argument("--relay", metavar="URI", help="relay URI for AUTH's To-Path (default from the address)")
    ap.add_argument("--user", help="Digest username (answer a 401)")
    ap.add_argument("--password", help="Digest password")
    ap.add_argument("--digest-method", default="AUTH", help="method in the digest's A2 (default AUTH)")
    ap.add_argument("--expires", type=int, help="Expires header in AUTH")
    ap.add_argument("--no-auth", action="store_true", help="listen/send without AUTH first")
    ap.add_argument("--trace", action="store_true", help="print every frame sent/received to stderr")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("auth", help="AUTH and print Use-Path / Expires")
    s = sub.add_parser("send", help="AUTH (unless --no-auth), then SEND")
    s.add_argument("--to-path", required=True, help="peer path, space-separated URIs (our Use-Path is "
                   "prepended unless --raw-path)")
    s.add_argument("--raw-path", action="store_true", help="use --to-path as the whole To-Path")
    body = s.add_mutually_exclusive_group(required=True)
    body.add_argument("--text")
    body.add_argument("--file")
    body.add_argument("--size", type=int, help="send N generated bytes")
    s.add_argument("--chunk", type=int, help="chunk size in bytes")
    s.add_argument("--content-type", default="text/plain")
    s.add_argument("--success-report", choices=["yes", "no"])
    s.add_argument("--failure-report", choices=["yes", "no", "partial"])
    s.add_argument("--timeout", type=float, default=10.0, help="wait this long for a REPORT")
    l = sub.add_parser("listen", help="AUTH (unless --no-auth), print the path to use, print messages")
    l.add_argument("--count", type=int, default=0, help="exit after N messages (0 = run until --timeout/^C)")
    l.add_argument("--timeout", type=float, default=0, help="stop after this many seconds (0 = never)")
    a = ap.parse_args(argv)
    try:
        return asyncio.run(_cli(a))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
