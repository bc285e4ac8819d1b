"""Interop with the Python `websockets` library (asyncio API) as the client."""
import asyncio
import os
import uuid

import pytest
from websockets.asyncio.client import connect

SIZES = [0, 125, 126, 65535, 65536, 1 << 20]
TIMEOUT = 30


def text_of(n: int) -> str:
    """A str that is exactly n bytes in UTF-8, with 1- to 4-byte characters in it."""
    s, size = [], 0
    for ch in "aé€😀" * (n // 10 + 1):
        w = len(ch.encode())
        if size + w > n:
            break
        s.append(ch)
        size += w
    s.append("x" * (n - size))
    return "".join(s)


def ws_connect(url, compression=None, **kw):
    # max_size: allow our 1 MiB messages. compression="deflate" offers permessage-deflate.
    return connect(url, max_size=16 << 20, compression=compression, open_timeout=TIMEOUT, **kw)


def negotiated(ws) -> str:
    return ws.response.headers.get("Sec-WebSocket-Extensions", "")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("size", SIZES)
def test_echo_sizes(server, kind, size, compression):
    msg = text_of(size) if kind == "text" else os.urandom(size)
    assert len(msg.encode() if kind == "text" else msg) == size

    async def go():
        async with ws_connect(server.url("/echo"), compression) as ws:
            assert negotiated(ws).startswith("permessage-deflate") == (compression == "deflate"), negotiated(ws)
            await ws.send(msg)
            back = await ws.recv()
            assert type(back) is type(msg), "echo changed the message type"
            assert back == msg
            await ws.close(1000, "done")
        # The close code the server sent back in its close frame.
        assert ws.close_code == 1000
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000

    run(go())


def test_echo_many_pipelined_in_order(server):
    """100 mixed messages sent without waiting come back in order with their types."""
    msgs = [f"m{i}" if i % 2 else os.urandom(i * 37) for i in range(100)]

    async def go():
        async with ws_connect(server.url("/echo")) as ws:
            for m in msgs:
                await ws.send(m)
            got = [await ws.recv() for _ in msgs]
            assert got == msgs
        assert ws.close_code == 1000

    run(go())


def test_ping_gets_pong(server):
    async def go():
        async with ws_connect(server.url("/echo")) as ws:
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 10)

    run(go())


def test_broadcast_two_clients(server):
    tag = uuid.uuid4().hex  # other tests may share /broadcast: only count our own messages
    a_msg, b_msg = f"{tag} from a", f"{tag} from b".encode()

    async def join(ws, hello):
        # Seeing our own hello come back proves the server has registered us.
        await ws.send(hello)
        while await ws.recv() != hello:
            pass

    async def collect(ws, want):
        got = set()
        while not want <= got:
            m = await ws.recv()
            if (m if isinstance(m, str) else m.decode(errors="replace")).startswith(tag):
                got.add(m)
        return got

    async def go():
        async with ws_connect(server.url("/broadcast"), "deflate") as a, \
                ws_connect(server.url("/broadcast")) as b:
            await join(a, f"{tag} hello a")
            await join(b, f"{tag} hello b")
            await a.send(a_msg)  # text
            await b.send(b_msg)  # binary: must stay binary
            want = {a_msg, b_msg}
            ga, gb = await asyncio.gather(collect(a, want), collect(b, want))
            assert want <= ga and want <= gb
        assert a.close_code == 1000 and b.close_code == 1000

    run(go())


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_wss_echo(tls_server, pki, compression):
    """websockets over TLS, verifying the gateway's certificate against the test CA, by IP and by name."""
    msgs = ["héllo over TLS", os.urandom(70000), text_of(1 << 20)]

    async def go(host):
        async with ws_connect(tls_server.url("/echo", "wss", host), compression, ssl=pki.client_context()) as ws:
            assert negotiated(ws).startswith("permessage-deflate") == (compression == "deflate")
            for m in msgs:
                await ws.send(m)
                assert await ws.recv() == m
            await ws.close(1000)
        assert ws.close_code == 1000

    for host in ("127.0.0.1", "localhost"):
        run(go(host))


def test_wss_refused_without_the_ca(tls_server, pki):
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki.other_ca))

    async def go():
        with pytest.raises(ssl.SSLCertVerificationError):
            async with ws_connect(tls_server.url("/echo", "wss"), ssl=ctx):
                pass

    run(go())


@pytest.mark.parametrize("params", [
    "server_no_context_takeover; client_no_context_takeover",
    "server_max_window_bits=9; client_max_window_bits=9",
])
def test_deflate_parameters(server, params):
    """websockets offering the RFC 7692 parameters; prose in both directions, several messages per context."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    kw = {}
    if "no_context" in params:
        kw = dict(server_no_context_takeover=True, client_no_context_takeover=True)
    else:
        kw = dict(server_max_window_bits=9, client_max_window_bits=9)
    factory = ClientPerMessageDeflateFactory(**kw)

    async def go():
        async with connect(server.url("/echo"), extensions=[factory], compression=None,
                           max_size=16 << 20, open_timeout=TIMEOUT) as ws:
            for key in params.replace(" ", "").split(";"):
                assert key.split("=")[0] in negotiated(ws), negotiated(ws)
            for i in range(20):
                m = f"message {i}: " + "the same words again and again " * (i * 50)
                await ws.send(m)
                assert await ws.recv() == m

    run(go())
