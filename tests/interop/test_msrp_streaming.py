"""The MSRP relay streams chunks (RFC 4975 §7.1.1): a SEND's body is forwarded as it arrives, never held whole,
and a long chunk on a connection is interrupted (ended with `+`, continued with a new transaction and the continued
Byte-Range) so that other messages for that connection are not held behind it. Every failure path ends in the
REPORT the source asked for, and bad input in the middle of a chunk ends the receiver's partial message with `#`.

The peers here are raw TCP MSRP endpoints written for these tests (`RawPeer` in peers/msrp/raw_peer.py: its own
streaming parser of the wire, no code of the relay's) plus the independent WebSocket client of tests/interop/peers/msrp. The relay's memory is
read from /proc while 200 MB pass through it.
"""
import asyncio
import hashlib
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import Procs, relay_server

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "msrp"))
import msrp_client as mc  # noqa: E402
from raw_peer import Piece, RawPeer  # noqa: E402

TIMEOUT = 120


def run(coro, timeout=TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="module")
def relay(procs, wsgate_bin):
    srv = relay_server(procs, wsgate_bin, "wsgate-msrp-streaming", "--msrp-transaction-timeout", "2")
    yield srv
    srv.assert_alive()
    Procs.stop(srv.proc)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def sender_and_receiver(port: int, **receiver) -> tuple[RawPeer, RawPeer]:
    """Two raw TCP endpoints on the relay, both authenticated (`receiver` options for the second: `answer=`)."""
    a = await RawPeer.connect(port)
    b = await RawPeer.connect(port, **receiver)
    await a.auth()
    await b.auth()
    return a, b


def send(a: RawPeer, b: RawPeer, message_id: str, data: bytes, byte_range: str, *, end: bool = True, extra: str = "") -> str:
    """A's SEND to B through the relay: the head, `data`, and (with `end`) the end-line `$`. Returns its tid."""
    tid = a.send_head(a.use_path + b.path_for_peers(), message_id, byte_range, extra=extra)
    a.writer.write(data)
    if end:
        a.end(tid)
    return tid


def pieces_are_contiguous(pieces: list[Piece], total: int) -> None:
    """The pieces of one message, in order, cover 1..total with no gap or overlap: each starts at the byte after
    the last one's data (the Byte-Range of a continued chunk), all but the last end with `+`."""
    at = 1
    for n, p in enumerate(pieces):
        start, _, rest = p.headers["byte-range"].partition("-")
        assert int(start) == at, (n, p.headers["byte-range"], at)
        assert rest.endswith(f"/{total}"), p.headers["byte-range"]
        at += p.length
        assert p.flag == ("$" if n == len(pieces) - 1 else "+"), (n, p.flag)
    assert at == total + 1


def ws_send_head(a: "mc.MsrpClient", to_path: list[str], message_id: str, size: int) -> tuple[str, bytes]:
    """The head of a SEND of `size` bytes in one chunk from the WebSocket client `a`, and its end-line."""
    tid = mc.new_tid()
    head = (f"MSRP {tid} SEND\r\nTo-Path: {' '.join(to_path)}\r\nFrom-Path: {a.uri}\r\nMessage-ID: {message_id}\r\n"
            f"Byte-Range: 1-{size}/{size}\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return tid, head


async def transfer_with_chats(relay, sender: str, size: int) -> None:
    """`sender` (`tcp`: a raw TCP endpoint; `ws`: the independent client over a WebSocket, the chunk as ONE
    message of one frame; `ws-fragments`: the same message in 1 MiB frames) sends `size` bytes as ONE chunk to B
    (TCP) while C, another WebSocket client, sends a chat message to B every 20 ms on the same relay → B connection.
    B's own parser reads the raw stream: the transfer arrives whole (SHA-256), interrupted (`+` endings, continued
    Byte-Ranges) with each chat within 200 ms; the relay's RSS grows by less than 32 MiB."""
    block = os.urandom(1 << 20)
    b = await RawPeer.connect(relay.msrp_port)
    await b.auth()
    if sender == "tcp":
        a = await RawPeer.connect(relay.msrp_port)
    else:
        a = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
    await a.auth()
    c = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
    await c.auth()
    # Warm the relay's paths up with one small chunk each way, then measure from there.
    if sender == "tcp":
        send(a, b, "warm", b"warm", "1-4/4")
    else:
        await a.send_message(a.use_path + b.path_for_peers(), "warm", message_id="warm")
    await c.send_message(c.use_path + b.path_for_peers(), "warm-chat")
    await b.wait_for(lambda: len(b.of("warm")) == 1 and any(p.flag == "$" for p in b.pieces if p.length == 9))
    base = rss_bytes(relay.proc.pid)
    peak = base

    expected = hashlib.sha256()
    if sender == "tcp":
        tid = a.send_head(a.use_path + b.path_for_peers(), "big", f"1-{size}/{size}")
    else:
        tid, head = ws_send_head(a, a.use_path + b.path_for_peers(), "big", size)
    marker = f"-------{tid}".encode()
    assert marker not in block + block[:len(marker)]

    async def send_big():
        if sender == "tcp":
            for _ in range(size // len(block)):
                a.writer.write(block)
                expected.update(block)
                await a.writer.drain()
            a.end(tid)
            await a.writer.drain()
            return
        for _ in range(size // len(block)):
            expected.update(block)
        end = f"\r\n-------{tid}$\r\n".encode()
        if sender == "ws":
            # One WebSocket message of one frame, as a browser sends it (websockets masks it in C).
            await a.t.ws.send(head + block * (size // len(block)) + end)
        else:
            async def fragments():
                yield head
                for _ in range(size // len(block)):
                    yield block
                yield end
            await a.t.ws.send(fragments())

    sent_chats: dict[str, float] = {}

    async def chat():
        n = 0
        while not big.done():
            mid = f"chat{n}"
            sent_chats[mid] = time.monotonic()
            await c.send_message(c.use_path + b.path_for_peers(), f"chat message {n}", message_id=mid)
            n += 1
            await asyncio.sleep(0.02)

    big = asyncio.create_task(send_big())
    chats = asyncio.create_task(chat())
    while not big.done():
        peak = max(peak, rss_bytes(relay.proc.pid))
        await asyncio.sleep(0.05)
    await big
    await b.wait_for(lambda: any(p.flag == "$" for p in b.of("big")), timeout=60)
    await chats
    await b.wait_for(lambda: all(b.of(m) for m in sent_chats))
    peak = max(peak, rss_bytes(relay.proc.pid))

    pieces = b.of("big")
    assert b.sizes["big"] == size and b.hashes["big"].hexdigest() == expected.hexdigest()
    pieces_are_contiguous(pieces, size)
    assert len({p.tid for p in pieces}) == len(pieces), "each continued chunk has a transaction of its own"
    # The relay sends a chunk on in pieces of at most 64 KiB (its pacing); a chat cuts the piece on the wire
    # short: the wire shows chats between pieces of the transfer, and pieces ended early with `+`.
    order = [p.headers.get("message-id") for p in b.pieces]
    first, last = order.index("big"), len(order) - 1 - order[::-1].index("big")
    between = [m for m in order[first:last] if m and m.startswith("chat")]
    assert len(between) >= 3, (len(sent_chats), between)
    assert all(p.length <= 65536 for p in pieces)
    cut_short = [n for n, p in enumerate(pieces[:-1]) if p.length < 65536]
    assert cut_short, "no piece of the transfer was interrupted"
    # Chats were sent during the transfer; each arrived within 200 ms.
    during = [m for m in sent_chats if b.of(m)[0].ended_at < pieces[-1].ended_at]
    assert len(during) >= 3, (len(sent_chats), len(during))
    late = {m: round(b.of(m)[0].ended_at - sent_chats[m], 3) for m in sent_chats if b.of(m)[0].ended_at - sent_chats[m] > 0.2}
    assert not late, late
    assert peak - base < 32 << 20, f"relay RSS grew by {(peak - base) >> 20} MiB"
    # A has its 200 for the big chunk, once it ended.
    if sender == "tcp":
        assert (await a.response(tid)).code == 200
    else:
        deadline = time.monotonic() + 10
        while not any(r.tid == tid for r in a.responses_in) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [r.code for r in a.responses_in if r.tid == tid] == [200]
    for p in (a, b, c):
        await p.close()


def test_a_200_mb_chunk_streams_through_in_bounded_memory_and_chat_interrupts_it(relay):
    """TCP → relay → TCP: `transfer_with_chats` with a raw TCP sender."""
    run(transfer_with_chats(relay, "tcp", 200 << 20), timeout=300)
    relay.assert_alive()


def test_a_200_mb_chunk_in_one_websocket_message_streams_through_to_tcp(relay):
    """WebSocket → relay → TCP (the issue's path): the independent client sends the 200 MB chunk as one WebSocket
    message of one frame — far over the listener's 16 MiB message limit, which the MSRP leg replaces by
    `--msrp-max-chunk-size` since it never holds a message whole — and it streams through like a TCP one."""
    run(transfer_with_chats(relay, "ws", 200 << 20), timeout=300)
    relay.assert_alive()


def test_a_chunk_in_a_fragmented_websocket_message_streams_through_to_tcp(relay):
    """The same with the message in 1 MiB frames (the fragments of one message: still one chunk)."""
    run(transfer_with_chats(relay, "ws-fragments", 200 << 20), timeout=300)
    relay.assert_alive()


def test_a_streamed_chunk_is_rechunked_for_a_websocket_receiver_with_chats_in_between(relay):
    """The same toward a WebSocket receiver (the independent client): A streams 50 MB in one chunk over TCP; the
    relay cuts it into pieces that fit one WebSocket message each (RFC 7977 §5.1, 64 KiB by default), and chats from
    C arrive between them, not after them."""
    size = 50 << 20
    block = os.urandom(1 << 20)

    async def go():
        a = await RawPeer.connect(relay.msrp_port)
        w = await mc.MsrpClient.connect_ws(relay.url("/msrp"), max_size=1 << 20)
        c = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        for p in (a, w, c):
            await p.auth()
        base = rss_bytes(relay.proc.pid)
        peak = base
        tid = a.send_head(a.use_path + w.path_for_peers(), "big", f"1-{size}/{size}")

        async def send_big():
            for _ in range(size // len(block)):
                a.writer.write(block)
                await a.writer.drain()
            a.end(tid)
            await a.writer.drain()

        big = asyncio.create_task(send_big())
        n = 0
        while not big.done():
            await c.send_message(c.use_path + w.path_for_peers(), f"chat {n}", message_id=f"c{n}")
            n += 1
            peak = max(peak, rss_bytes(relay.proc.pid))
            await asyncio.sleep(0.05)
        await big
        got = {}
        while len(got) < n + 1:
            m = await w.wait_message(timeout=60)
            got[m.message_id] = m
        assert got["big"].complete and hashlib.sha256(got["big"].body).digest() == hashlib.sha256(block * (size // len(block))).digest()
        assert max(len(f) for f in w.frames_in) <= 64 << 10, "a piece larger than one WebSocket message"
        order = [r.header("Message-ID") for r in w.requests_in if r.method == "SEND"]
        first, last = order.index("big"), len(order) - 1 - order[::-1].index("big")
        assert any(first < i < last for i, mid in enumerate(order) if mid.startswith("c")), "no chat between the pieces"
        pieces = [r for r in w.requests_in if r.header("Message-ID") == "big"]
        at = 1
        for r in pieces:
            start, end, total = r.byte_range()
            assert start == at and total == size and end == start + len(r.body) - 1
            at += len(r.body)
        assert at == size + 1 and [r.flag for r in pieces][-1] == "$" and set(r.flag for r in pieces[:-1]) == {"+"}
        assert peak - base < 32 << 20, f"relay RSS grew by {(peak - base) >> 20} MiB"
        await a.close()
        await w.close()
        await c.close()

    run(go(), timeout=300)


def test_a_next_hops_error_is_reported_with_message_id_byte_range_and_status(relay):
    async def go():
        a, b = await sender_and_receiver(relay.msrp_port, answer=415)
        tid = send(a, b, "refused1", b"hello", "1-5/5")
        assert (await a.response(tid)).code == 200  # hop by hop: the relay took it
        await a.wait_for(lambda: a.reports())
        report = a.reports()[0]
        assert report.headers["message-id"] == "refused1" and report.headers["byte-range"] == "1-5/5"
        assert report.headers["status"].startswith("000 415")
        assert report.headers["to-path"] == a.uri
        await a.close()
        await b.close()
    run(go())


def test_a_silent_next_hop_is_reported_408_after_the_configured_timeout(relay):
    async def go():
        a, b = await sender_and_receiver(relay.msrp_port, answer=None)  # never answers
        tid = send(a, b, "silent1", b"hello", "1-5/5")
        began = time.monotonic()
        await a.wait_for(lambda: a.reports(), timeout=10)
        took = time.monotonic() - began
        report = a.reports()[0]
        assert report.headers["status"].startswith("000 408") and report.headers["message-id"] == "silent1"
        assert 1.5 <= took <= 5, took  # --msrp-transaction-timeout 2
        # Failure-Report: partial takes silence for success: no REPORT.
        send(a, b, "silent2", b"hello", "1-5/5", extra="Failure-Report: partial\r\n")
        await asyncio.sleep(3.5)
        assert [r.headers["message-id"] for r in a.reports()] == ["silent1"]
        await a.close()
        await b.close()
    run(go())


def test_a_next_hop_that_vanishes_mid_chunk_is_reported_with_what_went_out(relay):
    async def go():
        a, b = await sender_and_receiver(relay.msrp_port)
        tid = send(a, b, "vanish1", b"x" * 100_000, "1-1000000/1000000", end=False)
        await b.wait_for(lambda: b.sizes.get("vanish1", 0) >= 90_000)
        got = b.sizes["vanish1"]
        await b.close()  # gone in the middle of the chunk
        await a.wait_for(lambda: a.reports(), timeout=10)
        # One REPORT, at once (not at the 2 s transaction timeout), for the piece B had not answered: the relay
        # sends a chunk on in pieces of 64 KiB, each answered by B once read — the first one was.
        report = a.reports()[0]
        assert report.headers["message-id"] == "vanish1" and report.headers["status"].startswith("000 408")
        start = int(report.headers["byte-range"].split("-")[0])
        assert (start - 1) % 65536 == 0 and 0 < start - 1 <= got, (report.headers["byte-range"], got)
        assert [p.flag for p in b.of("vanish1")][:1] == ["+"] and b.of("vanish1")[0].length == 65536
        # The rest of the chunk is read and dropped; the connection stays usable.
        a.writer.write(b"y" * 900_000)
        a.end(tid)
        c = await RawPeer.connect(relay.msrp_port)
        await c.auth()
        send(a, c, "after", b"ok", "1-2/2")
        await c.wait_for(lambda: any(p.flag == "$" for p in c.of("after")))
        await a.close()
        await c.close()
    run(go())


def test_a_sender_that_vanishes_mid_chunk_ends_the_receivers_message_with_hash(relay):
    async def go():
        a, b = await sender_and_receiver(relay.msrp_port)
        send(a, b, "gone1", b"x" * 100_000, "1-1000000/1000000", end=False)
        # The relay holds back the last few bytes (they might start the end-line), and so does B's parser.
        await b.wait_for(lambda: b.sizes.get("gone1", 0) >= 99_900)
        a.writer.transport.abort()
        await b.wait_for(lambda: b.of("gone1") and b.of("gone1")[-1].flag is not None)
        assert b.of("gone1")[-1].flag == "#" and 99_900 <= b.sizes["gone1"] <= 100_000
        await b.close()
    run(go())


def test_a_chunk_whose_end_line_never_comes_is_ended_and_its_sender_closed(relay):
    async def go():
        a, b = await sender_and_receiver(relay.msrp_port)
        send(a, b, "stall1", b"x" * 1000, "1-*/*", end=False)
        began = time.monotonic()
        await b.wait_for(lambda: b.of("stall1") and b.of("stall1")[-1].flag is not None, timeout=10)
        assert b.of("stall1")[-1].flag == "#"
        await asyncio.wait_for(a.closed.wait(), 10)  # the relay hung up on the stalled sender
        assert 1.5 <= time.monotonic() - began <= 6
        await b.close()
    run(go())


def test_a_byte_range_that_lies_about_the_length_is_refused_and_the_receivers_message_ended(relay):
    async def go():
        a, b = await sender_and_receiver(relay.msrp_port)
        # A long chunk streams; past the length its Byte-Range declares it is refused and the receiver's part ended.
        tid = send(a, b, "liar1", b"z" * 300_000, "1-100000/100000")
        assert (await a.response(tid)).code == 400
        await b.wait_for(lambda: b.of("liar1") and b.of("liar1")[-1].flag is not None)
        assert b.of("liar1")[-1].flag == "#" and 0 < b.sizes.get("liar1", 0) <= 100_000
        # A chunk whose Byte-Range declares it short is taken whole, so its lie is refused before anything of it
        # goes on — whether it arrives in one read or, with a pause in the middle, in two.
        tid = send(a, b, "liar2", b"z" * 20, "1-10/10")
        assert (await a.response(tid)).code == 400
        tid = send(a, b, "liar3", b"z" * 5, "1-10/10", end=False)
        await a.writer.drain()
        await asyncio.sleep(0.2)
        a.writer.write(b"z" * 5000)
        a.end(tid)
        assert (await a.response(tid)).code == 400
        # Nothing else harmed: the same connection goes on.
        tid = send(a, b, "honest", b"abc", "1-3/3")
        assert (await a.response(tid)).code == 200
        await b.wait_for(lambda: b.of("honest"))
        assert not b.of("liar2") and not b.of("liar3"), "a chunk longer than its short Byte-Range was forwarded"
        await a.close()
        await b.close()
    run(go())


def test_a_websocket_message_that_ends_inside_its_chunk_or_carries_two_is_refused_with_1008(relay):
    """RFC 7977 §5.1: one chunk per WebSocket message. A 300 KiB message (streamed in pieces) whose chunk has no
    end-line: B's partial message is ended with `#` and A is closed with 1008; a message carrying a second chunk
    after its first: the second never reaches B, and A is closed with 1008. Another client's chat goes on."""
    async def go():
        b = await RawPeer.connect(relay.msrp_port)
        await b.auth()
        for case in ("truncated", "two"):
            a = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
            await a.auth()
            tid, head = ws_send_head(a, a.use_path + b.path_for_peers(), case, 300 << 10)
            body = b"y" * (300 << 10)
            if case == "truncated":
                message = head + body[:200 << 10]
            else:
                second, second_head = ws_send_head(a, a.use_path + b.path_for_peers(), "second", 3)
                message = head + body + f"\r\n-------{tid}$\r\n".encode() + second_head + f"abc\r\n-------{second}$\r\n".encode()
            await a.t.ws.send(message)
            await asyncio.wait_for(a.closed.wait(), 10)
            assert a.t.ws.close_code == 1008, (case, a.t.ws.close_code)
            if case == "truncated":
                await b.wait_for(lambda: b.of(case) and b.of(case)[-1].flag is not None)
                assert b.of(case)[-1].flag == "#" and b.sizes[case] <= 200 << 10
        await asyncio.sleep(0.3)
        assert not b.of("second"), "a second chunk in one WebSocket message was forwarded"
        c = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        await c.auth()
        await c.send_message(c.use_path + b.path_for_peers(), "still here", message_id="after")
        await b.wait_for(lambda: b.of("after") and b.of("after")[-1].flag == "$")
        await c.close()
        await b.close()
    run(go())
    assert "a WebSocket message must carry exactly one MSRP chunk" in relay.log.read_text(errors="replace")


def test_max_chunk_size_bounds_a_streamed_chunk(procs, wsgate_bin):
    srv = relay_server(procs, wsgate_bin, "wsgate-msrp-max-chunk", "--msrp-max-chunk-size", "100000")

    async def go():
        a, b = await sender_and_receiver(srv.msrp_port)
        send(a, b, "huge", b"x" * 200_000, "1-*/*")
        await b.wait_for(lambda: b.of("huge") and b.of("huge")[-1].flag is not None)
        assert b.of("huge")[-1].flag == "#" and b.sizes["huge"] <= 100_000
        await asyncio.wait_for(a.closed.wait(), 10)
        await b.close()
    run(go())
    log = srv.log.read_text(errors="replace")
    assert "chunk body too large" in log
    Procs.stop(srv.proc)
