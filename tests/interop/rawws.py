"""Tiny hand-rolled RFC 6455 helpers for sending deliberately broken input.

Nothing here validates much: the point is to put exact bytes on the wire and
read back exactly what the server sent — and how the connection ended (`read_to_end`):
the server closed it (EOF or reset), or it was still open when the time was up, so
that a test expecting a disconnect fails when the server hangs instead.
"""
import base64
import enum
import os
import socket
import struct
import time
from dataclasses import dataclass

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset)."""


class Ended(enum.Enum):
    """How a raw read ended."""
    EOF = "EOF"                # the server closed the connection (FIN)
    RESET = "reset"            # the server reset it (RST): it closed with bytes of ours unread, or aborted
    OPEN = "still open"        # the time was up and the connection was still open: a silent (or hung) server


@dataclass(frozen=True)
class Reply:
    """What the server sent, and how the connection ended."""
    data: bytes
    ended: Ended

    @property
    def closed(self) -> bool:
        """The server closed the connection (EOF or reset), as opposed to leaving it open."""
        return self.ended is not Ended.OPEN

    def __repr__(self) -> str:
        shown = self.data if len(self.data) <= 200 else self.data[:100] + b"..." + self.data[-100:]
        return f"Reply({len(self.data)} bytes {shown!r}, ended: {self.ended.value})"


def read_to_end(sock: socket.socket, timeout: float) -> Reply:
    """Reads until the server closes the connection (EOF or reset) or `timeout` seconds pass with it still
    open (`Ended.OPEN`); returns everything received either way."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return Reply(bytes(out), Ended.RESET)
        if not data:
            return Reply(bytes(out), Ended.EOF)
        out += data
    return Reply(bytes(out), Ended.OPEN)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Conn:
    """A socket plus a read buffer, so HTTP and frame parsing can share bytes."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError as e:
            raise Closed("connection reset") from e
        if not data:
            raise Closed("EOF")
        self.buf += data

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_http(self) -> tuple[int, dict[str, str], bytes]:
        """Read one HTTP response: (status, lower-cased headers, body by Content-Length)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = self.read_exact(int(headers.get("content-length", "0")))
        return status, headers, body

    def read_frame(self) -> tuple[bool, int, bytes]:
        """Read one server frame: (fin, opcode, payload). Server frames must be unmasked."""
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.read_exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.read_exact(8))
        assert not b1 & 0x80, "server sent a masked frame"
        return bool(b0 & 0x80), b0 & 0x0F, self.read_exact(n)

    def read_close(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Skip data/ping frames until a close frame; return (code, reason)."""
        self.sock.settimeout(timeout)
        while True:
            _fin, op, payload = self.read_frame()
            if op == OP_CLOSE:
                if len(payload) < 2:
                    return None, ""
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")

    def expect_eof(self, timeout: float = 10.0, reset_ok: bool = False) -> None:
        """Assert the server closes TCP within `timeout` with a FIN — or a reset too, with `reset_ok`, where the
        client may have sent bytes the server rightly leaves unread. Any bytes before that are ignored."""
        self.buf = b""
        reply = read_to_end(self.sock, timeout)
        if reply.ended is Ended.OPEN:
            raise AssertionError(f"server did not close the TCP connection within {timeout}s "
                                 f"(sent {len(reply.data)} more bytes)")
        assert reset_ok or reply.ended is Ended.EOF, f"server reset the connection instead of closing it: {reply}"

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True,
                 rsv: int = 0, length: int | None = None) -> bytes:
    """Encode a client frame. `length` overrides the declared payload length (lies allowed)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 1 << 16:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode())


def handshake_request(port: int, path: str = "/echo", version: str = "13", extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n").encode()


def open_ws(port: int, path: str = "/echo") -> Conn:
    """Connect and complete a valid handshake; the server must answer 101."""
    c = Conn(connect(port))
    c.send(handshake_request(port, path))
    status, headers, _ = c.read_http()
    assert status == 101, f"handshake got HTTP {status}"
    assert headers.get("upgrade", "").lower() == "websocket"
    return c
