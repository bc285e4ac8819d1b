"""Rate limits: a flooding client is held to its service's rate (reading pauses: nothing is dropped) while another
client on the same service keeps its speed; sustained excess is closed with 1008; too many handshakes from one
address get 429 with Retry-After. Python `websockets` clients against a real `wsgate serve`."""
import asyncio
import re
import socket
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import HOST, Procs, free_port, start_config_server
from rawws import handshake_request

TIMEOUT = 30
RATE = 200  # messages per second per client on /limited


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.fixture(scope="module")
def limited(procs, wsgate_bin, tmp_path_factory):
    port = free_port()
    s = start_config_server(procs, wsgate_bin, "wsgate-serve-limits", tmp_path_factory.mktemp("limits") / "wsgate.yaml", f"""
listeners: [{{host: {HOST}, port: {port}}}]
limits: {{handshakes_per_second_per_address: 5, handshake_burst: 1}}
services:
  - {{path: /limited, type: echo, rate_limit: {{messages_per_second: {RATE}, burst: 0.5, close_after: 0}}}}
  - {{path: /strict, type: echo, rate_limit: {{messages_per_second: 50, burst: 0.2, close_after: 1}}}}
  - {{path: /bytes, type: echo, rate_limit: {{bytes_per_second: 100000, burst: 0.5, close_after: 0}}}}
""", port)
    yield s
    s.assert_alive()
    Procs.stop(s.proc)


async def open_ws(url):
    """Connects, retrying while the per-address handshake limit (5/s) says 429."""
    for _ in range(50):
        try:
            return await connect(url, open_timeout=TIMEOUT, compression=None, max_queue=None)
        except InvalidStatus as e:
            if e.response.status_code != 429:
                raise
            await asyncio.sleep(0.3)
    raise AssertionError("never admitted")


async def flood(ws, seconds: float, size: int = 32) -> list[float]:
    """Sends as fast as the connection takes them for `seconds`; returns the arrival time of every echo."""
    arrivals: list[float] = []
    stop = time.monotonic() + seconds

    async def reader():
        try:
            async for _ in ws:
                arrivals.append(time.monotonic())
        except ConnectionClosed:
            pass

    task = asyncio.create_task(reader())
    payload = "x" * size
    sent = 0
    while (remaining := stop - time.monotonic()) > 0:
        # A send waits once the socket's buffers are full (the gateway stopped reading), and the kernel may hold
        # megabytes that the gateway drains at the limited rate: a send is bounded by the time left, or the flood
        # would outlast its `seconds` by as long as the kernel's buffers take to drain.
        try:
            await asyncio.wait_for(ws.send(payload), remaining)
        except TimeoutError:
            break
        sent += 1
        if sent % 64 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.3)
    # Not a close handshake: the close frame would queue behind megabytes the gateway reads at the limited rate.
    ws.transport.abort()
    await asyncio.wait_for(task, 10)
    return arrivals


def rate_between(arrivals: list[float], start: float, end: float) -> float:
    return sum(1 for t in arrivals if start <= t < end) / (end - start)


def test_a_flooder_is_held_to_the_rate_while_another_client_keeps_its_speed(limited):
    """The flooder and the paced client run on event loops of their own (threads), so that neither starves the
    other on the Python side."""
    import threading
    url = f"ws://{HOST}:{limited.port}/limited"
    result = {}

    async def flooder():
        ws = await open_ws(url)
        result["began"] = time.monotonic()
        result["arrivals"] = await flood(ws, 6)

    def flooder_thread():
        try:
            asyncio.run(asyncio.wait_for(flooder(), 60))
        except BaseException as e:  # reported by the assertion below
            result["error"] = repr(e)

    thread = threading.Thread(target=flooder_thread)
    thread.start()

    async def paced_client():
        await asyncio.sleep(1)  # the flooder is flooding
        ws = await open_ws(url)
        latencies = []
        for i in range(300):  # 100 msg/s for 3 s: half the limit
            t0 = time.monotonic()
            await ws.send(f"p{i}")
            assert await asyncio.wait_for(ws.recv(), 5) == f"p{i}"
            latencies.append(time.monotonic() - t0)
            await asyncio.sleep(max(0.0, 0.01 - (time.monotonic() - t0)))
        await ws.close()
        return latencies

    latencies = run(paced_client())
    thread.join(60)
    assert not thread.is_alive() and "arrivals" in result, result.get("error")
    began, arrivals = result["began"], result["arrivals"]
    steady = rate_between(arrivals, began + 1.5, began + 5.5)  # after the burst, before the end
    assert abs(steady - RATE) <= 0.1 * RATE, f"flooder got {steady:.0f} msg/s, limit {RATE}"
    latencies.sort()
    assert len(latencies) == 300 and latencies[int(0.99 * len(latencies))] < 0.05, latencies[-5:]
    text = urllib.request.urlopen(f"http://{HOST}:{limited.port}/metrics", timeout=TIMEOUT).read().decode()
    throttles = re.search(r'wsgate_rate_limit_throttles_total\{protocol="rfc6455",service="/limited"\} (\S+)', text)
    assert throttles and float(throttles.group(1)) > 10


def test_nothing_is_dropped_a_byte_limited_flooder_gets_every_echo(limited):
    async def go():
        ws = await open_ws(f"ws://{HOST}:{limited.port}/bytes")
        sent = [f"{i:06d}" + "y" * 994 for i in range(400)]  # 400 KB at 100 KB/s
        began = time.monotonic()
        for m in sent:
            await ws.send(m)
        got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in sent]
        took = time.monotonic() - began
        await ws.close()
        return sent, got, took

    sent, got, took = run(go())
    assert got == sent  # all of them, in order
    assert 3.0 <= took <= 5.5, f"400 KB through a 100 KB/s limit (0.5 s burst) took {took:.1f} s"


def test_sustained_excess_is_closed_with_1008(limited):
    """What is timed is the arrival of the gateway's close frame (seen by the client's reader), not the end of the
    closing handshake: the flooding client's own sends may sit behind a full socket buffer for seconds after the
    gateway stopped reading, which says nothing about when the gateway decided to close."""
    async def go():
        ws = await open_ws(f"ws://{HOST}:{limited.port}/strict")
        began = time.monotonic()

        async def flood():
            try:
                sent = 0
                while time.monotonic() - began < 10:
                    await ws.send("z" * 16)
                    sent += 1
                    if sent % 64 == 0:
                        await asyncio.sleep(0)  # let the client's own reader run, as any real client's does
            except ConnectionClosed:
                pass

        flooding = asyncio.create_task(flood())
        while ws.protocol.close_rcvd is None and time.monotonic() - began < TIMEOUT:
            await asyncio.sleep(0.01)
        close_seen = time.monotonic() - began
        close = ws.protocol.close_rcvd
        flooding.cancel()
        try:
            await flooding
        except asyncio.CancelledError:
            pass
        ws.transport.abort()
        return (close.code, close.reason) if close else (None, None), close_seen

    (code, reason), took = run(go())
    assert code == 1008 and reason == "rate limit exceeded", (code, reason)
    assert took < 5, took
    assert "rate limit exceeded" in limited.log.read_text(errors="replace")


def test_too_many_handshakes_from_one_address_get_429_with_retry_after(limited):
    statuses, retry = [], None
    for _ in range(20):
        with socket.create_connection((HOST, limited.port), timeout=TIMEOUT) as s:
            s.sendall(handshake_request(limited.port, "/limited"))
            head = s.recv(4096).decode("latin-1")
            statuses.append(int(head.split()[1]))
            m = re.search(r"Retry-After: (\d+)", head)
            retry = retry or (m and int(m.group(1)))
    assert statuses.count(101) >= 1 and statuses.count(429) >= 10, statuses
    assert retry is not None and retry >= 1
    text = urllib.request.urlopen(f"http://{HOST}:{limited.port}/metrics", timeout=TIMEOUT).read().decode()
    assert re.search(r'wsgate_handshake_failures_total\{reason="rate_limited"\} ([1-9]\d*)', text)
    time.sleep(1.2)  # the bucket refills: a new handshake is admitted
    assert run(open_ws(f"ws://{HOST}:{limited.port}/limited")) is not None
