#!/usr/bin/env python3
"""Checks that a WebSocket echo server echoes text as text and binary as binary.

    check_echo.py ws://127.0.0.1:PORT/echo

Sends text and binary messages of 0 B .. 1 MiB (plus a ping), expects each back unchanged and with
the same type, then closes cleanly. Exits 0 and prints "ok" on success, 1 with the reason otherwise.
"""
import asyncio
import os
import sys

from websockets.asyncio.client import connect


async def check(url: str) -> None:
    async with connect(url, max_size=32 * 1024 * 1024, compression=None, open_timeout=5) as ws:
        pong = await ws.ping(b"check")
        await asyncio.wait_for(pong, 5)
        for size in (0, 1, 64, 125, 126, 1024, 65535, 65536, 64 * 1024 + 7, 1024 * 1024):
            text = ("é" * (size // 2) + "x" * (size % 2))  # multibyte UTF-8, `size` bytes
            data = os.urandom(size)
            for sent in (text, data):
                await ws.send(sent)
                got = await asyncio.wait_for(ws.recv(), 10)
                if type(got) is not type(sent):
                    raise AssertionError(f"{size} B {type(sent).__name__} came back as {type(got).__name__}")
                if got != sent:
                    raise AssertionError(f"{size} B {type(sent).__name__} came back altered ({len(got)} B)")
        # Pipelined burst: order must be kept.
        burst = [f"m{i}" if i % 2 else f"b{i}".encode() for i in range(200)]
        for m in burst:
            await ws.send(m)
        for m in burst:
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != m:
                raise AssertionError(f"burst: expected {m!r}, got {got!r}")
    if ws.close_code not in (1000, None):
        raise AssertionError(f"close code {ws.close_code}")


def main() -> int:
    url = sys.argv[1]
    try:
        asyncio.run(asyncio.wait_for(check(url), 60))
    except Exception as e:  # noqa: BLE001 - report any failure
        print(f"FAIL {url}: {type(e).__name__}: {e}")
        return 1
    print(f"ok {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
