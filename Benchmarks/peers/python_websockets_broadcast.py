#!/usr/bin/env python3
"""Benchmark peer: a Python `websockets` broadcast server, the library's documented fan-out (`broadcast()`, which
writes to every connection without waiting, skipping those whose buffer is full — the library's own advice).

    python_websockets_broadcast.py [PORT] [HOST]      (defaults: 9104 127.0.0.1; each path is one topic)

Every message goes to every connection on its path, the sender included, with its type. Compression off.
"""
import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

TOPICS: dict[str, set] = {}


async def handler(websocket):
    path = websocket.request.path
    members = TOPICS.setdefault(path, set())
    members.add(websocket)
    try:
        async for message in websocket:
            broadcast(members, message)
    finally:
        members.discard(websocket)


async def main(port: int, host: str) -> None:
    async with serve(handler, host, port, max_size=16 * 1024 * 1024, compression=None, backlog=4096) as server:
        print(f"python-websockets broadcast listening on ws://{host}:{port}/", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9104
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    try:
        asyncio.run(main(port, host))
    except KeyboardInterrupt:
        pass
