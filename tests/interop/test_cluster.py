"""Several gateways as one: what each node must share or advertise so that a load balancer can spread clients.

- WSR behind HAProxy (docs/cluster/haproxy.cfg, run as written): the create goes through the balancer, each node
  advertises its own address (`--advertise`), and librtmp opens the session on the node that issued it.
- MSRP: nodes given the same `--msrp-nonce-secret-file` accept each other's Digest nonces (a challenge from node A
  answered to node B); a node with another key does not.
- Named broadcast topics on one node (`/broadcast/{topic}`, the embedded default): topics do not mix, bad names are
  refused 400; publish/subscribe permissions from JWT claims (tokens minted by PyJWT).

The PostgreSQL backplane that carries broadcasts between nodes is not built yet (issue 15, see the session note).
"""
import asyncio
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import HOST, REPORTS, Procs, free_port, start_config_server, start_server, tail, wait_port

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "msrp"))
import msrp_client as mc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "docs" / "cluster" / "haproxy.cfg"
LIBRTMP_PEER = Path(__file__).parent / "peers" / "rtmp" / "librtmp_wsr.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # where python3-librtmp installs
TIMEOUT = 30
REALM = "cluster.test"


def run(coro, timeout=TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def start_haproxy(procs: Procs, nodes: list[int]) -> tuple[int, subprocess.Popen]:
    """HAProxy with the documented configuration in front of `nodes` (three ports), once it listens and has seen
    every node healthy."""
    assert len(nodes) == 3
    front = free_port()
    env = dict(os.environ, WSGATE_FRONTEND=f"{HOST}:{front}",
               **{f"WSGATE_NODE{i + 1}": f"{HOST}:{port}" for i, port in enumerate(nodes)})
    check = subprocess.run(["haproxy", "-c", "-f", HAPROXY_CFG], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # -db: stay in the foreground (the test's process, not a daemon); -W: master-worker, stopped by SIGTERM.
    proc, log = procs.start(["haproxy", "-db", "-W", "-f", HAPROXY_CFG], "haproxy", env=env)
    wait_port(front, proc)
    return front, proc


def test_wsr_create_through_haproxy_opens_the_session_on_the_advertised_node(procs, wsgate_bin):
    """Three nodes behind HAProxy, each advertising its own address: every create answered through the balancer
    names a node (never the balancer), and librtmp's RTMP connection to that URL gets the echo back."""
    nodes = []
    for i in range(3):
        port = free_port()
        p, log = procs.start([wsgate_bin, "serve", "--host", HOST, "--port", port, "--advertise", f"{HOST}:{port}"],
                             f"wsgate-node{i + 1}-wsr")
        wait_port(port, p)
        nodes.append(port)
    front, _ = start_haproxy(procs, nodes)
    named = []
    for i in range(6):
        message = f"through the balancer #{i}"
        proc = subprocess.run([SYSTEM_PYTHON, str(LIBRTMP_PEER), "echo", f"http://{HOST}:{front}/echo", message],
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        got = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        created = got[0]
        assert created["event"] == "created", got
        port = int(created["url"].split("/")[2].rsplit(":", 1)[1])
        assert port in nodes and port != front, created
        named.append(port)
        assert got[3:] == [{"text": False, "hex": message.encode().hex()}], got
    assert len(set(named)) >= 2, f"the balancer spread the creates over the nodes: {named}"


def msrp_node(procs, wsgate_bin, name, users: Path, *extra):
    msrp_port = free_port()
    srv = start_server(procs, wsgate_bin, name, "--msrp-port", msrp_port, "--msrp-realm", REALM,
                       "--msrp-htdigest", users, *extra)
    wait_port(msrp_port, srv.proc)
    srv.msrp_port = msrp_port
    return srv


async def auth_request(client: mc.MsrpClient, authorization: str | None = None) -> mc.Message:
    headers = [("To-Path", client.relay_uri), ("From-Path", str(client.uri))]
    if authorization:
        headers.append(("Authorization", authorization))
    return await client.request(mc.Message(tid=mc.new_tid(), method="AUTH", headers=headers), 10.0)


def test_msrp_nonce_issued_by_one_node_is_accepted_by_another(procs, wsgate_bin):
    directory = REPORTS / "cluster-msrp"
    directory.mkdir(parents=True, exist_ok=True)
    users = directory / "users.htdigest"
    users.write_text(f"alice:{REALM}:{mc._md5(f'alice:{REALM}:wonderland')}\n")
    shared = directory / "nonce.secret"
    shared.write_text(secrets.token_hex(32) + "\n")
    a = msrp_node(procs, wsgate_bin, "wsgate-msrp-node-a", users, "--msrp-nonce-secret-file", shared)
    b = msrp_node(procs, wsgate_bin, "wsgate-msrp-node-b", users, "--msrp-nonce-secret-file", shared)
    other = msrp_node(procs, wsgate_bin, "wsgate-msrp-node-c", users)  # its own random key

    async def go():
        on_a = await mc.MsrpClient.connect_ws(a.url("/msrp"))
        challenge = await auth_request(on_a)
        assert challenge.code == 401, challenge
        chal = mc.parse_challenge(challenge.header("WWW-Authenticate") or "")
        assert chal.get("nonce"), chal

        # The same nonce, answered to node B (behind a balancer the next request may land anywhere).
        on_b = await mc.MsrpClient.connect_ws(b.url("/msrp"))
        answer = mc.digest_authorization(chal, "alice", "wonderland", "AUTH", on_b.relay_uri, 1)
        accepted = await auth_request(on_b, answer)
        assert accepted.code == 200, accepted
        assert f":{b.msrp_port}/" in (accepted.header("Use-Path") or ""), accepted

        # A node with another key cannot check it: to that node the nonce is forged ("not issued here"), 403.
        on_c = await mc.MsrpClient.connect_ws(other.url("/msrp"))
        refused = await auth_request(on_c, mc.digest_authorization(chal, "alice", "wonderland", "AUTH", on_c.relay_uri, 1))
        assert refused.code == 403, refused
        for client in (on_a, on_b, on_c):
            await client.close()

    run(go())
    assert "nonces=shared key" in a.log.read_text(errors="replace"), tail(a.log)
    for srv in (a, b, other):
        srv.assert_alive()
        Procs.stop(srv.proc)


async def silent(ws, seconds: float = 0.5) -> bool:
    """True when nothing arrives for `seconds` while the connection stays open (a ping is still answered)."""
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
        raise AssertionError(f"expected silence, got {message!r}")
    except asyncio.TimeoutError:
        pass
    await asyncio.wait_for(await ws.ping(), 5)
    return True


def test_named_topics_do_not_mix_and_bad_names_are_refused(server):
    """The embedded default's /broadcast has named topics: /broadcast/alpha and /broadcast/beta are separate, and
    /broadcast itself is a topic of its own, so old clients keep working."""
    async def go():
        async with connect(server.url("/broadcast/alpha")) as a1, connect(server.url("/broadcast/alpha")) as a2, \
                connect(server.url("/broadcast/beta")) as b, connect(server.url("/broadcast")) as root:
            await a1.send("to alpha")
            assert await asyncio.wait_for(a1.recv(), 5) == "to alpha"
            assert await asyncio.wait_for(a2.recv(), 5) == "to alpha"
            assert await silent(b) and await silent(root)
            await root.send("to the root topic")
            assert await asyncio.wait_for(root.recv(), 5) == "to the root topic"
            assert await silent(a1) and await silent(b)
        for path in ["/broadcast/a%20b", "/broadcast/" + "x" * 129, "/broadcast/x/y", "/broadcast/"]:
            with pytest.raises(InvalidStatus) as refused:
                await connect(server.url(path))
            assert refused.value.response.status_code == 400, path
        # The longest name allowed is fine.
        async with connect(server.url("/broadcast/" + "x" * 128)) as ws:
            await ws.send("edge")
            assert await asyncio.wait_for(ws.recv(), 5) == "edge"

    run(go())


def test_publish_and_subscribe_permissions_come_from_the_token(procs, wsgate_bin):
    """A feed where tokens with scope `publish` may publish and any valid token may subscribe: a reader that
    publishes is closed 1008 and what it sent reaches nobody; a client without a token gets 401."""
    directory = REPORTS / "cluster-feed"
    directory.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    (directory / "jwt.secret").write_bytes(secret)
    port = free_port()
    srv = start_config_server(procs, wsgate_bin, "wsgate-feed", directory / "feed.yaml", f"""
listeners: [{{host: {HOST}, port: {port}}}]
services:
  - path: /feed
    type: broadcast
    topics: true
    auth: {{jwt: {{secret_file: {directory / 'jwt.secret'}}}}}
    publish: {{claims: {{scope: [publish]}}}}
""", port)

    def token(subject: str, scope: str) -> str:
        return jwt.encode({"sub": subject, "scope": scope}, secret, algorithm="HS256")

    def bearer(t: str) -> dict:
        return {"additional_headers": {"Authorization": f"Bearer {t}"}}

    async def go():
        url = srv.url("/feed/prices")
        async with connect(url, **bearer(token("writer", "read publish"))) as writer, \
                connect(url, **bearer(token("reader", "read"))) as reader:
            await writer.send("42.0")
            assert await asyncio.wait_for(reader.recv(), 5) == "42.0"
            assert await asyncio.wait_for(writer.recv(), 5) == "42.0"
            await reader.send("not mine to say")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(reader.recv(), 5)
            assert closed.value.rcvd.code == 1008, closed.value
            assert await silent(writer)
        with pytest.raises(InvalidStatus) as anonymous:
            await connect(url)
        assert anonymous.value.response.status_code == 401

    run(go())
    assert "closing a subscriber that published" in srv.log.read_text(errors="replace"), tail(srv.log)
    srv.assert_alive()
    Procs.stop(srv.proc)
