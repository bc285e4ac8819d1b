"""The connection core over real sockets: the lingering close after a protocol failure (the peer reads why it was
dropped instead of a reset), and the one subprotocol rule on every wire."""
import asyncio
import base64
import os
import socket
import struct
import threading
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import HOST, free_port, start_server

TIMEOUT = 30
LIMIT = 16 << 20  # the default --max-message-size


def masked_frame_header(opcode: int, length: int, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + b"\x00\x00\x00\x00"  # an all-zero mask: the payload goes as it is


def test_a_client_still_sending_past_the_limit_receives_1009_not_a_reset(server):
    """20 MB of fragments to /echo (limit 16 MiB) from the websockets library: it must see the gateway's 1009 close
    frame. Without the lingering close the gateway closed with the rest of the fragments unread, the kernel sent a
    reset, and the client saw 1006."""
    chunk = os.urandom(1 << 20)

    async def go():
        async with connect(server.url("/echo"), max_size=None, compression=None, open_timeout=TIMEOUT) as ws:
            try:
                await ws.send(chunk for _ in range(20))  # one message of 20 fragments
            except ConnectionClosed:
                pass  # the close arrived while we were still sending
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        return ws

    ws = asyncio.run(asyncio.wait_for(go(), TIMEOUT))
    assert ws.protocol.close_rcvd is not None, f"no close frame received (the connection was reset): {ws.close_code}"
    assert ws.protocol.close_rcvd.code == 1009, ws.protocol.close_rcvd
    assert "limit" in ws.protocol.close_rcvd.reason


def test_a_raw_peer_gets_the_close_frame_then_eof(server):
    """A raw client announces a 20 MB frame and keeps streaming its payload while reading: it must read the 1009
    close frame and then an orderly EOF within seconds — a reset or a hang fails."""
    s = socket.create_connection((HOST, server.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /echo HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        part = s.recv(4096)
        assert part, "closed during the handshake"
        head += part
    assert head.startswith(b"HTTP/1.1 101 "), head
    received = head.split(b"\r\n\r\n", 1)[1]

    def stream():
        payload = b"\x00" * 65536
        try:
            s.sendall(masked_frame_header(2, 20 << 20))
            for _ in range(4 << 20 // 65536):  # 4 MiB of it is plenty to be still sending when the close comes
                s.sendall(payload)
        except OSError:
            pass

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    ended = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            part = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            ended = "reset"
            break
        if not part:
            ended = "eof"
            break
        received += part
    sender.join(5)
    s.close()
    assert ended is not None, "the gateway neither closed nor reset within 15 s (it hung)"
    assert len(received) >= 4 and received[0] == 0x88, f"no close frame first: {received[:16]!r} ({ended})"
    code = struct.unpack("!H", received[2:4])[0]
    assert code == 1009, code
    assert ended == "eof", "the close frame arrived, then a reset instead of an orderly end"


def wsr_create(port: int, path: str, protocols: str | None) -> bytes:
    extra = f"X-WebSocket-Protocol: {protocols}\r\n" if protocols else ""
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(f"POST {path}/;e/cr HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-WebSocket-Version: wsr-1.0\r\n{extra}"
              "Content-Length: 0\r\n\r\n".encode())
    out = b""
    while True:
        part = s.recv(65536)
        if not part:
            break
        out += part
    s.close()
    return out


def test_one_subprotocol_rule_a_declined_offer_is_no_refusal_on_any_wire(server):
    """The client offers a subprotocol the service does not take: every wire opens without one (RFC 6455 §4.2.2).
    A WSR create got 404 for this before the rule was made one."""
    async def rfc6455():
        async with connect(server.url("/echo"), subprotocols=["chat.v9"], open_timeout=TIMEOUT) as ws:
            return ws.response.headers.get("Sec-WebSocket-Protocol")

    assert asyncio.run(asyncio.wait_for(rfc6455(), TIMEOUT)) is None
    reply = wsr_create(server.port, "/echo", "chat.v9")
    assert reply.startswith(b"HTTP/1.1 201 Created\r\n"), reply[:200]
    assert b"x-websocket-protocol" not in reply.lower().split(b"\r\n\r\n")[0], reply[:300]


def test_one_subprotocol_rule_a_chosen_offer_is_answered_on_every_wire(procs, wsgate_bin):
    """The MSRP relay takes `msrp` when offered: over an RFC 6455 upgrade and a WSR create alike."""
    srv = start_server(procs, wsgate_bin, "wsgate-subprotocol-rule", "--msrp-port", free_port())
    reply = wsr_create(srv.port, "/msrp", "other, msrp")
    assert reply.startswith(b"HTTP/1.1 201 Created\r\n"), reply[:200]
    assert b"X-WebSocket-Protocol: msrp\r\n" in reply, reply[:300]
    refused = wsr_create(srv.port, "/msrp", "other")
    assert refused.startswith(b"HTTP/1.1 400 "), refused[:200]

    async def rfc6455():
        async with connect(srv.url("/msrp"), subprotocols=["other", "msrp"], open_timeout=TIMEOUT) as ws:
            return ws.subprotocol

    assert asyncio.run(asyncio.wait_for(rfc6455(), TIMEOUT)) == "msrp"
