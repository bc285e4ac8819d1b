#!/usr/bin/env python3
"""Benchmark peer: the Python `websockets` asyncio echo server (its documented echo, max_size 16 MiB).

    python_websockets_echo.py [PORT] [HOST] [--deflate]      (defaults: 9004 127.0.0.1; any path)

Every message is sent back as it came: str -> text, bytes -> binary. Ping/pong and close are handled
by the library. permessage-deflate is off (compression=None) so that no peer negotiates it; --deflate turns
on the library's default (compression="deflate": context takeover, window 12 bits asked of clients that
allow it, memLevel 5).
"""
import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


async def main(port: int, host: str, deflate: bool) -> None:
    compression = "deflate" if deflate else None
    async with serve(echo, host, port, max_size=16 * 1024 * 1024, compression=compression, backlog=4096) as server:
        print(f"python-websockets echo listening on ws://{host}:{port}/echo", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    port = int(args[0]) if len(args) > 0 else 9004
    host = args[1] if len(args) > 1 else "127.0.0.1"
    try:
        asyncio.run(main(port, host, "--deflate" in sys.argv))
    except KeyboardInterrupt:
        pass
