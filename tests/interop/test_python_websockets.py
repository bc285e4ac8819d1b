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


def ws_connect(url):
    # max_size: allow our 1 MiB messages; no compression: the gateway does not offer it.
    return connect(url, max_size=16 << 20, compression=None, open_timeout=TIMEOUT)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("size", SIZES)
def test_echo_sizes(server, kind, size):
    msg = text_of(size) if kind == "text" else os.urandom(size)
    assert len(msg.encode() if kind == "text" else msg) == size

    async def go():
        async with ws_connect(server.url("/echo")) as ws:
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
        async with ws_connect(server.url("/broadcast")) as a, \
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
