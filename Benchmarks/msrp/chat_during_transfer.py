#!/usr/bin/env python3
"""Chat latency through wsgate's MSRP relay with and without a large transfer on the same connection.

    python3 Benchmarks/msrp/chat_during_transfer.py [--bin .build/release/wsgate] [--size-mb 200] [--chats 100]

Starts `wsgate serve --msrp-port`, then three endpoints: A (TCP) sends one chunk of SIZE MB to B (TCP); C (a
WebSocket client, tests/interop/peers/msrp/msrp_client.py) sends a short chat message to B every 50 ms. B reads the
raw stream with its own parser (tests/interop/peers/msrp/raw_peer.py). Phase 1: chats alone. Phase 2: the same
chats while the transfer runs, all on the relay → B connection, which the relay interrupts for them (RFC 4975
§7.1.1). Prints latency p50/p99/max (C's send → B's end-line) for both phases, their ratio, the transfer's
throughput, how many times it was interrupted, and the relay's RSS growth. Exits non-zero if the transfer did not
arrive intact.
"""
import argparse
import asyncio
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "interop" / "peers" / "msrp"))
import msrp_client as mc  # noqa: E402
from raw_peer import RawPeer  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


async def chats(c, b, n: int, label: str, until=None) -> list[float]:
    """Sends chats from C to B every 50 ms (n of them, or until `until` is done); returns their latencies."""
    sent: dict[str, float] = {}
    i = 0
    while (until is None and i < n) or (until is not None and not until.done()):
        mid = f"{label}{i}"
        sent[mid] = time.monotonic()
        await c.send_message(c.use_path + b.path_for_peers(), f"chat message {i} " + "x" * 60, message_id=mid)
        i += 1
        await asyncio.sleep(0.05)
    await b.wait_for(lambda: all(b.of(m) and b.of(m)[-1].ended_at for m in sent), timeout=60)
    return [b.of(m)[-1].ended_at - t for m, t in sent.items()]


async def main(args) -> int:
    ws_port, msrp_port = free_port(), free_port()
    proc = subprocess.Popen([args.bin, "serve", "--host", "127.0.0.1", "--port", str(ws_port), "--msrp-port", str(msrp_port),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", msrp_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        a = await RawPeer.connect(msrp_port)
        b = await RawPeer.connect(msrp_port)
        c = await mc.MsrpClient.connect_ws(f"ws://127.0.0.1:{ws_port}/msrp")
        for p in (a, b, c):
            await p.auth()
        await chats(c, b, 20, "warm")
        idle = await chats(c, b, args.chats, "idle")

        size = args.size_mb << 20
        block = os.urandom(1 << 20)
        expected = hashlib.sha256()
        base = peak = rss(proc.pid)
        tid = a.send_head(a.use_path + b.path_for_peers(), "transfer", f"1-{size}/{size}")

        async def transfer():
            for _ in range(args.size_mb):
                a.writer.write(block)
                expected.update(block)
                await a.writer.drain()
            a.end(tid)
            await a.writer.drain()
            await b.wait_for(lambda: any(p.flag == "$" for p in b.of("transfer")), timeout=300)

        began = time.monotonic()
        task = asyncio.create_task(transfer())

        async def sample():
            nonlocal peak
            while not task.done():
                peak = max(peak, rss(proc.pid))
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        busy = await chats(c, b, 0, "busy", until=task)
        await task
        took = time.monotonic() - began
        await sampler
        intact = b.sizes.get("transfer") == size and b.hashes["transfer"].hexdigest() == expected.hexdigest()
        pieces = b.of("transfer")
        cut_short = sum(1 for p in pieces[:-1] if p.length < 64 << 10)

        def line(name, values):
            ms = [v * 1000 for v in values]
            return f"{name}: n={len(ms)} p50 {statistics.median(ms):.2f} ms p99 {percentile(ms, 0.99):.2f} ms max {max(ms):.2f} ms"

        print(line("chat latency, relay idle", idle))
        print(line(f"chat latency, during a {args.size_mb} MB transfer", busy))
        print(f"p99 ratio (during / idle): x{percentile(busy, 0.99) / percentile(idle, 0.99):.2f}; "
              f"p50 ratio: x{statistics.median(busy) / statistics.median(idle):.2f}")
        print(f"transfer: {args.size_mb} MB in {took:.2f} s ({args.size_mb / took:.0f} MB/s), intact: {intact}, "
              f"arrived in {len(pieces)} pieces (the relay's 64 KiB pacing; {cut_short} cut short by a chat); relay RSS grew by {(peak - base) / 2**20:.1f} MiB")
        for p in (a, b):
            await p.close()
        await c.close()
        return 0 if intact else 1
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=str(REPO / ".build" / "release" / "wsgate"))
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--chats", type=int, default=100)
    sys.exit(asyncio.run(main(parser.parse_args())))
