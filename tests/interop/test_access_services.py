"""Access control as the services use it, over real sockets: a TCP proxy whose backend is chosen by credential
(named allowlist; real TCP backends started here), and the MSRP relay admitting a WebSocket AUTH for the
handshake's identity (the independent Python MSRP client of tests/interop/peers/msrp) and refusing anonymous ones.
Tokens are minted by PyJWT."""
import asyncio
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import HOST, Procs, free_port, start_config_server, wait_port

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "msrp"))
import msrp_client as mc  # noqa: E402

TIMEOUT = 20
SECRET = b"services-interop-secret-" + b"abcdefghij" * 4


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT * 2))


def token(**claims) -> str:
    return jwt.encode({"sub": "alice", "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")


class Backend:
    """A TCP server that answers each connection with its name, then echoes."""

    def __init__(self, name: str):
        self.name = name.encode()
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            conn.sendall(self.name + b"\n")
            while data := conn.recv(65536):
                conn.sendall(data)


@pytest.fixture(scope="module")
def backends():
    return {name: Backend(name) for name in ["desk1", "desk2", "outside"]}


@pytest.fixture(scope="module")
def gateway(procs, wsgate_bin, backends, tmp_path_factory):
    directory = tmp_path_factory.mktemp("services")
    secret = directory / "secret"
    secret.write_bytes(SECRET)
    port, msrp_port = free_port(), free_port()
    b = {name: f"127.0.0.1:{backend.port}" for name, backend in backends.items()}
    s = start_config_server(procs, wsgate_bin, "wsgate-serve-access-services", directory / "wsgate.yaml", f"""
listeners: [{{host: {HOST}, port: {port}}}]
services:
  - {{path: /by-query, type: tcp-proxy, targets: {{desk1: "{b['desk1']}", desk2: "{b['desk2']}"}}}}
  - {{path: /by-path, type: tcp-proxy, targets: {{desk1: "{b['desk1']}", desk2: "{b['desk2']}"}}, target_from: path}}
  - path: /by-claim
    type: tcp-proxy
    targets: {{desk1: "{b['desk1']}", desk2: "{b['desk2']}"}}
    target_from: claim:desk
    auth: {{jwt: {{secret_file: {secret}}}}}
  - path: /msrp
    type: msrp
    port: {msrp_port}
    auth: {{jwt: {{secret_file: {secret}}}}}
""", port)
    wait_port(msrp_port, s.proc)
    s.msrp_port = msrp_port
    yield s
    s.assert_alive()
    Procs.stop(s.proc)


async def first_line(url: str, **kw) -> bytes:
    async with connect(url, open_timeout=TIMEOUT, **kw) as ws:
        greeting = await asyncio.wait_for(ws.recv(), TIMEOUT)
        await ws.send(b"ping")
        echoed = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert echoed == b"ping"
        return greeting


def status(url: str, **kw) -> int:
    try:
        run(first_line(url, **kw))
        return 101
    except InvalidStatus as e:
        return e.response.status_code


@pytest.mark.parametrize("how", ["query", "path", "claim"])
def test_the_proxy_reaches_the_named_backend_and_refuses_any_other(gateway, backends, how):
    base = f"ws://{HOST}:{gateway.port}"
    url = {"query": lambda n: f"{base}/by-query?token={n}", "path": lambda n: f"{base}/by-path/{n}",
           "claim": lambda n: f"{base}/by-claim?access_token={token(desk=n)}"}[how]
    assert run(first_line(url("desk1"))) == b"desk1\n"
    assert run(first_line(url("desk2"))) == b"desk2\n"
    before = backends["outside"].accepted
    for name in ["outside", f"127.0.0.1:{backends['outside'].port}", "desk3", ""]:
        assert status(url(name)) == 403, name
    assert backends["outside"].accepted == before  # never even connected to


def test_a_claim_proxy_needs_the_credential(gateway):
    assert status(f"ws://{HOST}:{gateway.port}/by-claim") == 401
    assert status(f"ws://{HOST}:{gateway.port}/by-claim?token=desk1") == 401  # a query name is no claim


def test_the_msrp_relay_admits_an_auth_for_the_handshakes_identity_and_refuses_an_anonymous_one(gateway):
    async def go():
        a = await mc.MsrpClient.connect_ws(f"ws://{HOST}:{gateway.port}/msrp", headers={"Authorization": f"Bearer {token()}"})
        use_path, expires = await a.auth()  # no Digest: the handshake's identity is enough (RFC 7977 §5.3.1)
        assert use_path[0].startswith(f"msrp://127.0.0.1:{gateway.msrp_port}/") and expires > 0
        await a.close()
        # Over TCP nobody authenticated: no Digest realm, so the AUTH is refused.
        b = await mc.MsrpClient.connect_tcp(HOST, gateway.msrp_port)
        with pytest.raises(mc.MsrpError) as refused:
            await b.auth()
        assert refused.value.response.code == 403
        await b.close()

    run(go())
    with pytest.raises(InvalidStatus) as refused:  # and without a token there is no WebSocket leg at all
        run(connect(f"ws://{HOST}:{gateway.port}/msrp", subprotocols=["msrp"], open_timeout=TIMEOUT))
    assert refused.value.response.status_code == 401


def test_a_file_relay_for_anyone_must_say_so(wsgate_bin, tmp_path):
    config = tmp_path / "open-relay.yaml"
    config.write_text(f"services: [{{path: /msrp, type: msrp, port: {free_port()}}}]\n")
    r = subprocess.run([str(wsgate_bin), "serve", "--check-config", str(config)], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1 and "would relay for anyone" in r.stderr, r.stderr
    r = subprocess.run([str(wsgate_bin), "serve", "--config", str(config)], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode != 0 and "allow_anonymous" in r.stderr, r.stderr


def test_api_key_and_jwt_flags_protect_the_embedded_default_together(procs, wsgate_bin, tmp_path):
    import hashlib
    from conftest import start_server
    keys = tmp_path / "keys"
    keys.write_text(f"{hashlib.sha256(b'k-123').hexdigest()} bot\n")
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET + b"\n")
    srv = start_server(procs, wsgate_bin, "wsgate-serve-flags-auth", "--api-key-file", keys, "--jwt-secret-file", secret)
    try:
        for credential in ["k-123", token()]:
            r = subprocess.run([str(wsgate_bin), "connect", "--token", credential, srv.url("/broadcast")], input="hi\n",
                               capture_output=True, text=True, timeout=TIMEOUT)
            assert r.returncode == 0 and r.stdout.splitlines() == ["hi"], r.stderr
        r = subprocess.run([str(wsgate_bin), "connect", "--token", "k-999", srv.url("/echo")], input="hi\n",
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode != 0 and "401" in r.stderr, r.stderr
    finally:
        Procs.stop(srv.proc)
