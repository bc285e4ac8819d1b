#!/usr/bin/env python3
"""How long a newcomer waits: opening handshakes timed one after another while something else loads the server.

    probe.py PORT SECONDS [--path /echo] [--timeout 60]

Each round trip is a fresh TCP connection, an RFC 6455 upgrade request and the wait for the response head
(`HTTP/1.1 101`); then the socket is closed and, after 50 ms, the next one starts, until SECONDS are over (a
handshake that started in time is waited for, up to --timeout). Prints one JSON object: the handshakes
completed, their p50 / p99 / max latency in milliseconds, and refusals (any status but 101) and failures
(timeouts, resets) separately, so a server that refuses fast does not look fair.

Plain sockets on purpose: no WebSocket library's own scheduling sits between the clock and the server.
"""
import base64
import json
import os
import socket
import sys
import time


def handshake(port: int, path: str, timeout: float) -> tuple[float, str]:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = s.recv(4096)
            if not data:
                return (time.perf_counter() - started) * 1000, "closed"
            head += data
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    return (time.perf_counter() - started) * 1000, status


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main() -> None:
    args = sys.argv[1:]
    path = args[args.index("--path") + 1] if "--path" in args else "/echo"
    timeout = float(args[args.index("--timeout") + 1]) if "--timeout" in args else 60.0
    port, seconds = int(args[0]), float(args[1])
    latencies: list[float] = []
    refused = failed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            ms, status = handshake(port, path, timeout)
            if " 101 " in f"{status} ":
                latencies.append(ms)
            else:
                refused += 1
        except OSError:
            failed += 1
        time.sleep(0.05)
    latencies.sort()
    print(json.dumps({"handshakes": len(latencies), "p50_ms": percentile(latencies, 50),
                      "p99_ms": percentile(latencies, 99), "max_ms": latencies[-1] if latencies else None,
                      "refused": refused, "failed": failed}))


if __name__ == "__main__":
    main()
