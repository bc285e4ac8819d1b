"""permessage-deflate at rest (issue 17): a connection quiet for `rest_after` ends its zlib streams and re-creates
them from the history it kept. The peer here is written from RFC 7692 on Python's zlib — it never rests and keeps
its whole window — so a message the gateway compressed after resting must inflate with that window, and a message
the client compresses with back-references into what it sent before the rest must be understood by the gateway.
The chat corpus is Benchmarks/compression/ratio.py's, generated independently of the gateway's code."""
import base64
import os
import socket
import struct
import sys
import time
import zlib
from pathlib import Path

import pytest

from conftest import HOST, free_port, start_config_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Benchmarks" / "compression"))
import ratio  # noqa: E402  (the corpus and the reference sizes)

REST_AFTER = 0.2


class DeflateClient:
    """A raw RFC 6455 client with permessage-deflate (context takeover both ways) on Python's zlib."""

    def __init__(self, port: int, path: str = "/echo", offer: str = "permessage-deflate; client_max_window_bits"):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Extensions: {offer}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), lines[0]
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        self.extensions = headers.get("sec-websocket-extensions", "")
        params = dict((p.split("=") + [None])[:2] for p in (x.strip() for x in self.extensions.split(";")[1:]))
        self.client_bits = int(params.get("client_max_window_bits") or 15)
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -self.client_bits)
        self.decompressor = zlib.decompressobj(-15)
        self.wire_in = 0  # compressed payload bytes received

    def send(self, data: bytes):
        payload = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        assert payload.endswith(b"\x00\x00\xff\xff")
        payload = payload[:-4]
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0xC1]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
                                   if n < 65536 else bytes([0x80 | 127]) + struct.pack("!Q", n))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the gateway closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def receive(self) -> tuple[int, bytes]:
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        payload = self._read(n)
        opcode = b0 & 0x0F
        if opcode == 8:
            return 8, payload
        assert b0 & 0x80, "the echo of a small message comes in one frame"
        if b0 & 0x40:
            self.wire_in += len(payload)
            return opcode, self.decompressor.decompress(payload + b"\x00\x00\xff\xff")
        return opcode, payload


@pytest.fixture
def resting_server(procs, wsgate_bin, tmp_path):
    port = free_port()
    yaml = (f"listeners:\n  - {{host: {HOST}, port: {port}}}\nservices:\n  - path: /echo\n    type: echo\n"
            f"    compression:\n      rest_after: {REST_AFTER}\n")
    return start_config_server(procs, wsgate_bin, "wsgate-resting", tmp_path / "resting.yaml", yaml, port)


def test_messages_across_rests_inflate_both_ways_with_an_independent_peer(resting_server):
    c = DeflateClient(resting_server.port)
    assert c.extensions == "permessage-deflate; client_max_window_bits=12", c.extensions
    messages = ratio.messages(40)
    for n, m in enumerate(messages):
        # Every fourth message repeats one sent up to three before: the client's compressor refers back to it,
        # so the gateway must have kept that part of the client's window through its rest.
        data = m + messages[n - 3] if n % 4 == 3 else m
        c.send(data)
        opcode, echoed = c.receive()
        assert (opcode, echoed) == (1, data), f"message {n}"
        if n % 2:
            time.sleep(REST_AFTER * 3)  # quiet: the gateway rests between this message and the next
    resting_server.assert_alive()
    # What the gateway sent after resting is still compressed against its history: within 15 % of what an
    # endpoint that never rests (zlib with its whole window) makes of the same messages.
    sent = [m + messages[n - 3] if n % 4 == 3 else m for n, m in enumerate(messages)]
    reference = ratio.compressed_size(sent, window_bits=15)
    assert c.wire_in <= reference * 1.15, (c.wire_in, reference)
    c.sock.close()


def test_a_client_that_cannot_be_limited_keeps_its_whole_window_across_rests(resting_server):
    # No client_max_window_bits in the offer: the client may use 32 KiB, and the gateway keeps all of it.
    c = DeflateClient(resting_server.port, offer="permessage-deflate")
    assert c.client_bits == 15 and "client_max_window_bits" not in c.extensions
    filler = os.urandom(20_000).hex().encode()[:20_000]  # incompressible within itself: 20 KB of history
    c.send(filler)
    assert c.receive() == (1, filler)
    time.sleep(REST_AFTER * 3)
    c.send(filler[:5000])  # refers back ~20 KB, beyond 4 KiB and within 32 KiB
    assert c.receive() == (1, filler[:5000])
    c.sock.close()
