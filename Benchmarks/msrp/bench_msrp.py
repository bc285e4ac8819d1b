#!/usr/bin/env python3
"""Relayed MSRP SEND throughput and latency: wsgate's relay and Kamailio 5.6 side by side, in one run.

Each of --pairs pairs is a WebSocket client (sender) and a TCP client (receiver) authenticated to the relay; each
sender sends --messages SENDs of --size bytes, one at a time (it waits for the relay's 200 before the next), to
its receiver through the relay. Latency: from the sender writing a SEND to the receiver having it whole. The
relays alternate order each round; medians over rounds and the wsgate/Kamailio ratio are printed.

Both relays are driven by the same Python client (tests/interop/peers/msrp/msrp_client.py), so absolute figures
are bounded by it; the ratio compares the relays under identical load.

  .deps/py/bin/python Benchmarks/msrp/bench_msrp.py [--pairs 8] [--messages 500] [--size 200] [--rounds 3] [--json]
"""
import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "interop" / "peers" / "msrp"))
import msrp_client as mc  # noqa: E402
from selftest import Kamailio, free_port, wait_port  # noqa: E402

HOST = "127.0.0.1"


def start_wsgate():
    binary = REPO / ".build" / "release" / "wsgate"
    ws_port, msrp_port = free_port(), free_port()
    log = open(REPO / "reports" / "logs" / "bench-wsgate-msrp.log", "wb")
    proc = subprocess.Popen([str(binary), "serve", "--host", HOST, "--port", str(ws_port), "--msrp-port", str(msrp_port),
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    wait_port(ws_port, proc)
    wait_port(msrp_port, proc)
    return proc, f"ws://{HOST}:{ws_port}/msrp", msrp_port


async def one_pair(ws_url, msrp_port, messages, size, latencies):
    sender = await mc.MsrpClient.connect_ws(ws_url)
    receiver = await mc.MsrpClient.connect_tcp(HOST, msrp_port)
    await sender.auth()
    await receiver.auth()
    to_path = sender.use_path + receiver.path_for_peers()
    body = b"m" * size
    sent_at = {}

    async def receive():
        for _ in range(messages):
            got = await receiver.wait_message(timeout=30)
            latencies.append(time.perf_counter() - sent_at[got.message_id])

    receiving = asyncio.create_task(receive())
    for i in range(messages):
        mid = f"bench{i}x{id(sender)}"
        sent_at[mid] = time.perf_counter()
        await sender.send_message(to_path, body, message_id=mid, timeout=30)
    await receiving
    await sender.close()
    await receiver.close()


async def measure(ws_url, msrp_port, pairs, messages, size):
    latencies = []
    start = time.perf_counter()
    await asyncio.gather(*(one_pair(ws_url, msrp_port, messages, size, latencies) for _ in range(pairs)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"messages_per_second": pairs * messages / elapsed,
            "latency_p50_ms": 1000 * latencies[len(latencies) // 2],
            "latency_p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    (REPO / "reports" / "logs").mkdir(parents=True, exist_ok=True)
    wsgate, ws_url, msrp_port = start_wsgate()
    kam = Kamailio(name="bench-kamailio-msrp")
    relays = {"wsgate": (ws_url, msrp_port), "kamailio": (kam.ws_url, kam.msrp_port)}
    results = {name: [] for name in relays}
    try:
        for r in range(args.rounds):
            order = list(relays) if r % 2 == 0 else list(reversed(relays))
            for name in order:
                res = asyncio.run(measure(*relays[name], args.pairs, args.messages, args.size))
                results[name].append(res)
                print(f"round {r + 1} {name:8}: {res['messages_per_second']:8.0f} msg/s  p50 {res['latency_p50_ms']:.2f} ms"
                      f"  p99 {res['latency_p99_ms']:.2f} ms", file=sys.stderr)
    finally:
        wsgate.terminate()
        kam.stop()
    summary = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in results.items()}
    summary["ratio_wsgate_over_kamailio"] = summary["wsgate"]["messages_per_second"] / summary["kamailio"]["messages_per_second"]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for name in relays:
            s = summary[name]
            print(f"{name:8}: {s['messages_per_second']:.0f} msg/s, p50 {s['latency_p50_ms']:.2f} ms, p99 {s['latency_p99_ms']:.2f} ms")
        print(f"throughput wsgate / kamailio: ×{summary['ratio_wsgate_over_kamailio']:.2f}")


if __name__ == "__main__":
    main()
