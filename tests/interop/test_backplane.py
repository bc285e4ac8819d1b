"""The broadcast backplane: three `wsgate serve` nodes sharing broadcasts through PostgreSQL 15 (its own data directory
and `pg_ctl`, tests/interop/postgres.py), clients reaching them through HAProxy running docs/cluster/haproxy.cfg as
written. Every client gets every message exactly once and each publisher's in order; topics do not mix; a node killed
with SIGKILL loses its clients to the others while the rest lose nothing; PostgreSQL restarted under traffic loses
nothing; a node that falls behind past the retention reports the gap in its log and metrics; large messages cross;
bad input is refused alike on every node.
"""
import asyncio
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import HOST, LOGS, REPORTS, Procs, Server, free_port, tail, wait_port
from postgres import PASSWORD, Postgres
from test_cluster import start_haproxy

TIMEOUT = 120


def run(coro, timeout=TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="module")
def pg():
    server = Postgres(free_port(), LOGS / "postgres.log")
    server.init()
    yield server
    server.destroy()


def start_nodes(procs, wsgate_bin, pg, name: str, count: int = 3, retention: float = 60,
                max_message_size: int = 1 << 20) -> list[Server]:
    """`count` nodes with the backplane in their configuration file (password from a file), once each says
    `backplane connected`. The table is emptied first, so every test starts from a clean backplane."""
    pg.psql("DROP TABLE IF EXISTS wsgate_backplane_batches, wsgate_backplane_horizon", database="wsgate")
    directory = REPORTS / name
    directory.mkdir(parents=True, exist_ok=True)
    password_file = directory / "pg.password"
    password_file.write_text(PASSWORD + "\n")
    nodes = []
    for i in range(count):
        port = free_port()
        config = directory / f"node{i + 1}.yaml"
        config.write_text(f"""
listeners: [{{host: {HOST}, port: {port}}}]
services:
  - {{path: /echo, type: echo}}
  - {{path: /broadcast, type: broadcast, topics: true}}
limits: {{max_message_size: {max_message_size}}}
cluster:
  node_id: {name}-node{i + 1}
  backplane:
    postgres: {{url: "{pg.url}", password_file: {password_file}, retention: {retention}}}
""")
        p, log = procs.start([wsgate_bin, "serve", "--config", config], f"{name}-node{i + 1}")
        wait_port(port, p)
        node = Server(p, port, log)
        node.node_id = f"{name}-node{i + 1}"
        nodes.append(node)
    for node in nodes:
        wait_for_log(node, "backplane connected")
    return nodes


def wait_for_log(node: Server, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = node.log.read_text(errors="replace")
        if text in log:
            return log
        node.assert_alive()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {node.log}:\n{tail(node.log)}")


def metric(node: Server, name: str) -> float:
    """`name` on `node`'s /metrics, summed over its label sets (0 when absent)."""
    with urllib.request.urlopen(f"http://{HOST}:{node.port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def stop_all(nodes):
    for node in nodes:
        Procs.stop(node.proc)


class Receiver:
    """One subscriber: what it got, per publisher, to check exactly-once and order."""

    def __init__(self, ws, expected: int):
        self.ws, self.expected = ws, expected
        self.by_publisher: dict[str, list[int]] = {}
        self.other: list[str] = []
        self.count = 0

    async def run(self):
        async for message in self.ws:
            publisher, _, index = message.partition(":")
            if index.isdigit():
                self.by_publisher.setdefault(publisher, []).append(int(index))
            else:
                self.other.append(message)
            self.count += 1
            if self.count >= self.expected:
                return


async def publish(ws, name: str, count: int, pause_every: int = 0, pause: float = 0.0):
    for i in range(count):
        await ws.send(f"{name}:{i}")
        if pause_every and i % pause_every == pause_every - 1:
            await asyncio.sleep(pause)


def test_every_client_on_every_node_gets_every_message_once_in_order(procs, wsgate_bin, pg):
    """300 clients through HAProxy on one topic and 30 on another; 10 publishers × 1,000 messages on the first, one
    × 100 on the second: every client of a topic gets all of that topic's messages, each exactly once and in its
    publisher's order, and nothing of the other topic."""
    nodes = start_nodes(procs, wsgate_bin, pg, "bp-order")
    front, _ = start_haproxy(procs, [n.port for n in nodes])
    publishers, per_publisher, clients = 10, 1000, 300
    main_total = publishers * per_publisher

    async def go():
        main = [await connect(f"ws://{HOST}:{front}/broadcast/main", compression=None, max_queue=None)
                for _ in range(clients)]
        other = [await connect(f"ws://{HOST}:{front}/broadcast/other", compression=None, max_queue=None)
                 for _ in range(30)]
        spread = [metric(n, "wsgate_connections") for n in nodes]
        assert all(s > 0 for s in spread), f"HAProxy spread the clients over every node: {spread}"
        receivers = [Receiver(ws, main_total) for ws in main] + [Receiver(ws, 100) for ws in other]
        tasks = [asyncio.create_task(r.run()) for r in receivers]
        senders = [await connect(f"ws://{HOST}:{nodes[k % 3].port}/broadcast/main", compression=None, max_queue=None)
                   for k in range(publishers)]
        other_sender = await connect(f"ws://{HOST}:{nodes[1].port}/broadcast/other", compression=None)
        drains = [asyncio.create_task(drain(ws)) for ws in senders + [other_sender]]
        start = time.monotonic()
        await asyncio.gather(*(publish(ws, f"p{k}", per_publisher) for k, ws in enumerate(senders)),
                             publish(other_sender, "o", 100))
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT - 20)
        elapsed = time.monotonic() - start
        for r in receivers[:clients]:
            assert r.count == main_total and not r.other
            assert sorted(r.by_publisher) == sorted(f"p{k}" for k in range(publishers))
            for name, indices in r.by_publisher.items():
                assert indices == list(range(per_publisher)), f"{name}: not exactly once in order"
        for r in receivers[clients:]:
            assert r.by_publisher == {"o": list(range(100))}
        for d in drains:
            d.cancel()
        for ws in main + other + senders + [other_sender]:
            await ws.close()
        return elapsed

    elapsed = run(go())
    print(f"{main_total} messages to {clients} clients on 3 nodes in {elapsed:.1f} s")
    published = sum(metric(n, "wsgate_backplane_published_total") for n in nodes)
    assert published == main_total + 100, published
    for n in nodes:
        assert metric(n, "wsgate_backplane_connected") == 1
        assert metric(n, "wsgate_backplane_gaps_total") == 0
        n.assert_alive()
    stop_all(nodes)


async def drain(ws):
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass


def test_large_messages_cross_nodes_and_bad_input_is_refused_alike(procs, wsgate_bin, pg):
    """A 1 MiB binary message (far past NOTIFY's 8000 bytes) published on node 1 arrives intact on nodes 2 and 3; on
    every node a message over the limit is closed 1009 and a bad topic name refused 400."""
    nodes = start_nodes(procs, wsgate_bin, pg, "bp-large", max_message_size=1 << 20)
    payload = os.urandom(1 << 20)

    async def go():
        receivers = [await connect(f"ws://{HOST}:{n.port}/broadcast/big", max_size=2 << 20) for n in nodes[1:]]
        async with connect(f"ws://{HOST}:{nodes[0].port}/broadcast/big", max_size=2 << 20) as sender:
            await sender.send(payload)
            for ws in receivers:
                assert await asyncio.wait_for(ws.recv(), 30) == payload
        for ws in receivers:
            await ws.close()
        for n in nodes:
            async with connect(f"ws://{HOST}:{n.port}/broadcast/t", max_size=4 << 20) as ws:
                await ws.send(b"x" * ((1 << 20) + 1))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd.code == 1009, n.node_id
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"ws://{HOST}:{n.port}/broadcast/bad%20name")
            assert refused.value.response.status_code == 400

        # The console's live feed says which node this is and how its backplane is.
        async with connect(f"ws://{HOST}:{nodes[0].port}/console/live") as console:
            update = json.loads(await asyncio.wait_for(console.recv(), 10))
            cluster = update["cluster"]
            assert cluster["node"] == nodes[0].node_id and cluster["state"] == "connected", cluster
            assert cluster["published"] >= 1 and cluster["url"] == pg.url, cluster

    run(go())
    stop_all(nodes)


def test_a_killed_node_loses_its_clients_to_the_others_and_the_rest_lose_nothing(procs, wsgate_bin, pg):
    """SIGKILL one node during traffic: its clients reconnect through HAProxy and land on the other nodes; the
    clients of the other nodes get every message of the publishers on those nodes, once and in order."""
    nodes = start_nodes(procs, wsgate_bin, pg, "bp-kill")
    front, _ = start_haproxy(procs, [n.port for n in nodes])
    per_publisher = 2000

    async def go():
        clients = [await connect(f"ws://{HOST}:{front}/broadcast/live", compression=None, max_queue=None)
                   for _ in range(60)]
        # Which node each client landed on: the killed node's clients are the ones whose connection drops.
        await asyncio.sleep(0.2)
        senders = [await connect(f"ws://{HOST}:{nodes[k].port}/broadcast/live", compression=None, max_queue=None)
                   for k in (0, 2)]
        drains = [asyncio.create_task(drain(ws)) for ws in senders]
        receivers = [Receiver(ws, 2 * per_publisher) for ws in clients]
        tasks = [asyncio.create_task(r.run()) for r in receivers]
        sending = asyncio.gather(*(publish(ws, f"p{k}", per_publisher, pause_every=100, pause=0.05)
                                   for k, ws in zip((0, 2), senders)))
        await asyncio.sleep(0.5)
        os.kill(nodes[1].proc.pid, signal.SIGKILL)
        await sending
        done, _ = await asyncio.wait(tasks, timeout=60)
        survivors = [r for r, t in zip(receivers, tasks) if t in done and t.exception() is None]
        dropped = [r for r, t in zip(receivers, tasks) if t in done and t.exception() is not None] + \
                  [r for r, t in zip(receivers, tasks) if t not in done and r.ws.state.name != "OPEN"]
        assert len(survivors) + len(dropped) == len(receivers), "every client either finished or was dropped"
        assert dropped, "the killed node had clients"
        assert survivors, "the other nodes had clients"
        for r in survivors:
            for name in ("p0", "p2"):
                assert r.by_publisher.get(name) == list(range(per_publisher)), f"{name}: lost or reordered"
        # The killed node's clients come back through the balancer, on the other nodes, and get new messages.
        back = [await connect(f"ws://{HOST}:{front}/broadcast/live", open_timeout=10) for _ in dropped]
        await senders[0].send("after the kill")
        for ws in back:
            assert await asyncio.wait_for(ws.recv(), 10) == "after the kill"
        for d in drains:
            d.cancel()
        for ws in back + senders + [r.ws for r in survivors]:
            await ws.close()
        return len(dropped)

    moved = run(go())
    print(f"{moved} clients of the killed node reconnected to the others")
    for n in (nodes[0], nodes[2]):
        n.assert_alive()
    stop_all([nodes[0], nodes[2]])


def test_postgres_restarted_during_traffic_loses_nothing(procs, wsgate_bin, pg):
    """PostgreSQL stopped and started again while two nodes publish: the publishers' messages wait in their nodes'
    outboxes, the readers catch up from their cursors, and every client gets every message once, in order."""
    nodes = start_nodes(procs, wsgate_bin, pg, "bp-restart")
    per_publisher = 3000

    async def go():
        clients = [await connect(f"ws://{HOST}:{n.port}/broadcast/r", compression=None, max_queue=None)
                   for n in nodes for _ in range(10)]
        senders = [await connect(f"ws://{HOST}:{nodes[k].port}/broadcast/r", compression=None, max_queue=None)
                   for k in (0, 1)]
        drains = [asyncio.create_task(drain(ws)) for ws in senders]
        receivers = [Receiver(ws, 2 * per_publisher) for ws in clients]
        tasks = [asyncio.create_task(r.run()) for r in receivers]
        sending = asyncio.gather(*(publish(ws, f"p{k}", per_publisher, pause_every=100, pause=0.03)
                                   for k, ws in enumerate(senders)))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(pg.stop, "fast")
        await asyncio.sleep(1.5)
        await asyncio.to_thread(pg.start)
        await sending
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        for r in receivers:
            for name in ("p0", "p1"):
                assert r.by_publisher.get(name) == list(range(per_publisher)), f"{name}: lost, repeated or reordered"
        for d in drains:
            d.cancel()
        for ws in clients + senders:
            await ws.close()

    run(go())
    for n in nodes:
        log = n.log.read_text(errors="replace")
        assert "backplane reader not connected" in log or "backplane writer not connected" in log, tail(n.log)
        assert metric(n, "wsgate_backplane_connected") == 1
        assert metric(n, "wsgate_backplane_gaps_total") == 0
    stop_all(nodes)


def test_a_node_behind_past_the_retention_reports_the_gap(procs, wsgate_bin, pg):
    """A node stopped (SIGSTOP) longer than the 1 s retention while another publishes: when it runs again, the rows it
    never read are gone; it says so in its log and counts the gap (the exact number of messages), and goes on with what comes next."""
    nodes = start_nodes(procs, wsgate_bin, pg, "bp-gap", count=2, retention=1)
    publisher, behind = nodes

    async def go():
        async with connect(f"ws://{HOST}:{behind.port}/broadcast/g") as late, \
                connect(f"ws://{HOST}:{publisher.port}/broadcast/g") as sender:
            os.kill(behind.proc.pid, signal.SIGSTOP)
            try:
                for i in range(50):
                    await sender.send(f"missed:{i}")
                    await sender.recv()
                await asyncio.sleep(4)  # past the retention and the pruner's period (a quarter of the retention here)
            finally:
                os.kill(behind.proc.pid, signal.SIGCONT)
            await asyncio.to_thread(wait_for_log, behind, "backplane gap")
            await sender.send("after the gap")
            got = []
            while "after the gap" not in got:
                got.append(await asyncio.wait_for(late.recv(), 10))
            assert not any(m.startswith("missed:") for m in got), got

    run(go())
    assert metric(behind, "wsgate_backplane_gaps_total") >= 1
    # All 50 were published and pruned while it was stopped: the gap is counted exactly, in messages.
    assert metric(behind, "wsgate_backplane_gap_messages_total") == 50
    log = behind.log.read_text(errors="replace")
    assert re.search(r"missed=50\b", log), tail(behind.log)
    stop_all(nodes)


def test_postgres_unreachable_at_start_is_said_clearly(procs, wsgate_bin):
    """No PostgreSQL at the backplane's address: the node says so, serves its own clients, and keeps trying; with
    `required: true` it refuses to start instead (exit 1, the reason in its log)."""
    closed = free_port()  # nothing listens there
    directory = REPORTS / "bp-unreachable"
    directory.mkdir(parents=True, exist_ok=True)
    for required in (False, True):
        port = free_port()
        config = directory / f"required-{required}.yaml"
        config.write_text(f"""
listeners: [{{host: {HOST}, port: {port}}}]
services: [{{path: /echo, type: echo}}, {{path: /broadcast, type: broadcast}}]
cluster:
  node_id: alone
  backplane: {{postgres: {{url: "postgres://wsgate@{HOST}:{closed}/wsgate", required: {str(required).lower()}}}}}
""")
        p, log = procs.start([wsgate_bin, "serve", "--config", config], f"bp-unreachable-{required}")
        if required:
            assert p.wait(30) == 1, tail(log)
            assert "cannot reach the backplane's PostgreSQL, and the configuration says required: true" in log.read_text()
            continue
        wait_port(port, p)
        node = Server(p, port, log)
        text = wait_for_log(node, "cannot reach the backplane's PostgreSQL yet: serving this node's clients alone, retrying")
        assert "backplane reader not connected" in text

        async def local():
            async with connect(node.url("/broadcast")) as a, connect(node.url("/broadcast")) as b:
                await a.send("local only")
                assert await asyncio.wait_for(b.recv(), 5) == "local only"

        run(local())
        assert metric(node, "wsgate_backplane_connected") == 0
        assert metric(node, "wsgate_backplane_queued_messages") >= 1, "what was published waits for PostgreSQL"
        node.assert_alive()
        Procs.stop(p)
