#!/usr/bin/env python3
"""Benchmark peer: picows echo server, after picows's own echo server example (Core API, uvloop).

    picows_echo.py [PORT] [HOST]      (defaults: 9005 127.0.0.1; upgrades only on /echo, else 404)

Every data frame is sent back with its type and FIN bit (text stays text, binary stays binary),
close is answered with close; pings are answered by picows (enable_auto_pong, its default).
"""
import asyncio
import signal
import sys

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

DATA = (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION)


class EchoListener(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type in DATA:
            transport.send(msg_type, frame.get_payload_as_memoryview(), frame.fin)
        elif msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


def listener_factory(request: WSUpgradeRequest):
    # Routing: /echo only (None -> 404).
    return EchoListener() if request.path.split(b"?", 1)[0] == b"/echo" else None


async def main(port: int, host: str) -> None:
    server = await ws_create_server(listener_factory, host, port,
                                    max_frame_size=16 * 1024 * 1024, backlog=4096)
    print(f"picows echo listening on ws://{host}:{port}/echo", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.close)
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9005
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    asyncio.run(main(port, host))
