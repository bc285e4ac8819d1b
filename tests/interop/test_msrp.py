"""The MSRP relay (RFC 4976 + RFC 7977) over real sockets, driven by an independent Python MSRP client
(tests/interop/peers/msrp/msrp_client.py) and chained with Kamailio 5.6 (a real MSRP relay).

AUTH with Digest (wrong password, Expires out of bounds); WebSocket → relay → TCP and back; WebSocket →
WebSocket (seed §8.4); a 10 MB message chunked by the sender and re-chunked by the relay for the WebSocket leg;
a dead next hop answered with a failure REPORT; Failure-Report no/partial; messages through wsgate and Kamailio
in both orders, over msrp and over msrps (TLS between the relays, certificates checked both ways); `wsgate msrp`
with Digest credentials against Kamailio; bad input.
"""
import asyncio
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HOST, REPORTS, Procs, free_port, raw_exchange, relay_server, start_server
from rawws import Ended, Reply

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "msrp"))
import msrp_client as mc  # noqa: E402
from selftest import PASSWORD, USER, Kamailio  # noqa: E402

TIMEOUT = 60
REALM = "wsgate.test"


def run(coro, timeout=TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))




@pytest.fixture(scope="module")
def relay(procs, wsgate_bin):
    srv = relay_server(procs, wsgate_bin, "wsgate-msrp")
    yield srv
    srv.assert_alive()
    Procs.stop(srv.proc)


def htdigest(path: Path, user: str, password: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{user}:{REALM}:{mc._md5(f'{user}:{REALM}:{password}')}\n")
    return path


def test_digest_auth_over_websocket(procs, wsgate_bin):
    users = htdigest(REPORTS / "msrp-users.htdigest", "alice", "wonderland")
    srv = relay_server(procs, wsgate_bin, "wsgate-msrp-digest", "--msrp-realm", REALM, "--msrp-htdigest", users)

    async def go():
        a = await mc.MsrpClient.connect_ws(srv.url("/msrp"))
        with pytest.raises(mc.MsrpError) as refused:
            await a.auth(username="alice", password="guess")
        assert refused.value.response.code == 403
        with pytest.raises(mc.MsrpError) as bounds:
            await a.auth(username="alice", password="wonderland", expires=5)
        assert bounds.value.response.code == 423
        assert bounds.value.response.header("Min-Expires") == "60" and bounds.value.response.header("Max-Expires") == "3600"
        use_path, expires = await a.auth(username="alice", password="wonderland", expires=600)
        assert expires == 600 and use_path[0].startswith(f"msrp://127.0.0.1:{srv.msrp_port}/")
        # Without credentials: the challenge.
        b = await mc.MsrpClient.connect_ws(srv.url("/msrp"))
        with pytest.raises(mc.MsrpError) as challenged:
            await b.auth()
        assert challenged.value.response.code == 401
        assert 'qop="auth"' in challenged.value.response.header("WWW-Authenticate")
        await a.close()
        await b.close()

    run(go())
    Procs.stop(srv.proc)


def test_websocket_leg_needs_the_msrp_subprotocol(relay):
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    async def go():
        with pytest.raises(InvalidStatus) as e:
            await connect(relay.url("/msrp"))
        assert e.value.response.status_code == 400
    run(go())


def test_websocket_to_tcp_and_back(relay):
    async def go():
        a = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        b = await mc.MsrpClient.connect_tcp(HOST, relay.msrp_port)
        await a.auth()
        await b.auth()
        await a.send_message(a.use_path + b.path_for_peers(), "hello from the WebSocket ✓")
        got = await b.wait_message()
        assert got.body == "hello from the WebSocket ✓".encode()
        await b.send_message(b.use_path + a.path_for_peers(), "and back over TCP")
        got = await a.wait_message()
        assert got.body == b"and back over TCP"
        # The relay's hops are in the From-Path the recipient saw (RFC 4976 path rewriting).
        first = b.requests_in[0]
        assert first.from_path[-1] == str(a.uri) and len(first.from_path) == 3
        await a.close()
        await b.close()
    run(go())


def test_websocket_to_websocket_seed_8_4(relay):
    async def go():
        alice = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        carol = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        await alice.auth()
        await carol.auth()
        await alice.send_message(alice.use_path + carol.path_for_peers(), "Carol, here is the file Bob sent me.")
        got = await carol.wait_message()
        assert got.body == b"Carol, here is the file Bob sent me."
        await alice.close()
        await carol.close()
    run(go())


def test_ten_megabytes_chunked_and_rechunked(relay):
    body = os.urandom(10 * 1024 * 1024)

    async def go():
        ws = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        tcp = await mc.MsrpClient.connect_tcp(HOST, relay.msrp_port)
        await ws.auth()
        await tcp.auth()
        # TCP sender, 1 MiB chunks: the relay cuts each into WebSocket messages of at most 64 KiB.
        await tcp.send_message(tcp.use_path + ws.path_for_peers(), body, content_type="application/octet-stream",
                               chunk_size=1 << 20, timeout=30)
        got = await ws.wait_message(timeout=60)
        assert got.body == body
        assert max(len(f) for f in ws.frames_in) <= 64 * 1024
        assert len(ws.frames_in) > 160
        # And the other way, 256 KiB chunks from the WebSocket client.
        await ws.send_message(ws.use_path + tcp.path_for_peers(), body[:3 << 20], content_type="application/octet-stream",
                              chunk_size=256 << 10, timeout=30)
        got = await tcp.wait_message(timeout=60)
        assert got.body == body[:3 << 20]
        await ws.close()
        await tcp.close()
    run(go(), timeout=180)


def closed_port() -> int:
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_dead_next_hop_gets_a_failure_report(relay):
    async def go():
        a = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
        await a.auth()
        dead = f"msrp://{HOST}:{closed_port()}/nobody;tcp"
        await a.send_message(a.use_path + [dead], "into the void")
        reports = await a.wait_report(timeout=20)
        assert reports[0].header("Status").startswith("000 481"), reports[0].header("Status")
        assert reports[0].to_path == [str(a.uri)]
        # Failure-Report: no → neither a 200 nor a REPORT; partial → a REPORT but no 200.
        before = len(a.responses_in)
        await a.send_message(a.use_path + [dead], "quietly", failure_report="no")
        await asyncio.sleep(1.5)
        assert len(a.reports) == 1 and len(a.responses_in) == before
        await a.send_message(a.use_path + [dead], "partly", failure_report="partial")
        await a.wait_report(timeout=20, n=2)
        assert len(a.responses_in) == before
        await a.close()
    run(go())


def test_through_wsgate_and_kamailio_in_both_orders(relay):
    kam = Kamailio(name="kamailio-msrp-chain")
    try:
        async def go():
            # Alice on wsgate's WebSocket leg, Bob on Kamailio's.
            alice = await mc.MsrpClient.connect_ws(relay.url("/msrp"))
            bob = await mc.MsrpClient.connect_ws(kam.ws_url)
            await alice.auth()
            await bob.auth()
            # wsgate → Kamailio: wsgate opens TCP to Kamailio's MSRP port as the next hop.
            await alice.send_message(alice.use_path + bob.path_for_peers(), "via wsgate then Kamailio")
            assert (await bob.wait_message(timeout=20)).body == b"via wsgate then Kamailio"
            # Kamailio → wsgate: Kamailio opens TCP to wsgate's MSRP port.
            await bob.send_message(bob.use_path + alice.path_for_peers(), "via Kamailio then wsgate")
            assert (await alice.wait_message(timeout=20)).body == b"via Kamailio then wsgate"
            await alice.close()
            await bob.close()
        run(go())
        assert kam.alive()
    finally:
        kam.stop()


def test_bad_input(procs, wsgate_bin):
    srv = relay_server(procs, wsgate_bin, "wsgate-msrp-bad", "--max-message-size", "4096", "--msrp-max-chunk-size", "4096")

    async def go():
        bystander = await mc.MsrpClient.connect_tcp(HOST, srv.msrp_port)
        await bystander.auth()
        # A malformed start line, a transaction id too short (RFC 4975: 4 to 32 characters), a blank line where
        # the end-line of a request without body belongs, a header flood: nothing answered, disconnected (and a
        # hang fails: raw_exchange tells a close from a connection left open).
        for bad in (b"HELLO relay\r\n\r\n", b"MSRP ab SEND\r\nTo-Path: msrp://x;tcp\r\n\r\n",
                    b"MSRP abcd SEND\r\nTo-Path: msrp://x;tcp\r\n\r\n", b"MSRP abcd SEND\r\n" + b"X-Flood: y\r\n" * 5000):
            reply = raw_exchange(srv.msrp_port, bad)
            assert reply.closed and reply.data == b"", (bad[:40], reply)
        # A head that stops half-way: the relay waits for the rest, silently, with the connection open; once
        # the sender's EOF ends the stream mid-request, it hangs up without answering.
        partial = b"MSRP abcd SEND\r\nTo-Path: msrp://x;tcp\r\n"
        reply = raw_exchange(srv.msrp_port, partial, timeout=1.5)
        assert reply == Reply(b"", Ended.OPEN), reply
        reply = raw_exchange(srv.msrp_port, partial, half_close=True)
        assert reply.closed and reply.data == b"", reply
        # A request taken whole (not a SEND) over the message limit: 400 for that transaction, then disconnected.
        head = (f"MSRP abcd FOO\r\nTo-Path: msrp://{HOST}:{srv.msrp_port}/x;tcp msrp://b.example:1/y;tcp\r\n"
                f"From-Path: msrp://c.example:1/z;tcp\r\nContent-Type: text/plain\r\n\r\n")
        reply = raw_exchange(srv.msrp_port, head.encode() + b"x" * 10000 + b"\r\n-------abcd$\r\n")
        assert reply.data.startswith(b"MSRP abcd 400 ") and reply.closed, reply
        # A SEND is routed on its head: to a session that does not exist, 481 at once; its body is read and dropped
        # up to the chunk limit (--msrp-max-chunk-size), past which the connection is closed, with no second answer.
        head = (f"MSRP abce SEND\r\nTo-Path: msrp://{HOST}:{srv.msrp_port}/x;tcp msrp://b.example:1/y;tcp\r\n"
                f"From-Path: msrp://c.example:1/z;tcp\r\nMessage-ID: m\r\nByte-Range: 1-*/*\r\nContent-Type: text/plain\r\n\r\n")
        reply = raw_exchange(srv.msrp_port, head.encode() + b"x" * 10000 + b"\r\n-------abce$\r\n")
        assert reply.data.startswith(b"MSRP abce 481 ") and reply.data.count(b"MSRP abce ") == 1 and reply.closed, reply
        # The bystander is unharmed.
        use_path, _ = await bystander.auth()
        assert use_path
        await bystander.close()
    run(go())
    srv.assert_alive()
    log = srv.log.read_text(errors="replace")
    assert "malformed MSRP input" in log
    Procs.stop(srv.proc)


async def wsgate_msrp(wsgate_bin, url, *extra):
    proc = await asyncio.create_subprocess_exec(str(wsgate_bin), "msrp", url, "--linger", "3", *extra,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    first = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    assert first.startswith("Use-Path: "), first + (await proc.stderr.read()).decode()
    return proc, first[len("Use-Path: "):].split()


async def cli_exchange(proc, bob, path: list[str], to_cli: str, from_cli: str):
    """Bob → the CLI (printed as "<sender>: text"), then the CLI → Bob (each stdin line is a message); stdin's
    end then ends the CLI with status 0."""
    await bob.send_message(bob.use_path + path, to_cli)
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    assert line.rstrip("\n") == f"{bob.uri}: {to_cli}", line
    proc.stdin.write(f"{from_cli}\n".encode())
    await proc.stdin.drain()
    assert (await bob.wait_message(timeout=20)).body == from_cli.encode()
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 20) == 0


@pytest.mark.parametrize("peer", ["wsgate", "wsgate-over-wsr", "kamailio"])
def test_wsgate_msrp_client_against_a_relay(relay, wsgate_bin, peer):
    """`wsgate msrp` (the Swift MSRPClient) over a relay's WebSocket leg — wsgate's and Kamailio's, and wsgate's
    reached over WebSocket over RTMP (`wsr://`: the relay runs unchanged on a WSR session) — with the independent
    Python client on the relay's TCP leg at the other end."""
    kam = Kamailio(name="kamailio-msrp-cli") if peer == "kamailio" else None
    ws_url, msrp_port = (kam.ws_url, kam.msrp_port) if kam else (relay.url("/msrp"), relay.msrp_port)
    if peer == "wsgate-over-wsr":
        ws_url = relay.url("/msrp", scheme="wsr")
    try:
        async def go():
            bob = await mc.MsrpClient.connect_tcp(HOST, msrp_port)
            await bob.auth()
            proc, path = await wsgate_msrp(wsgate_bin, ws_url, "--to-path", " ".join(bob.path_for_peers()))
            await cli_exchange(proc, bob, path, "hello, shell ✓", "hello, Bob")
            await bob.close()
        run(go())
    finally:
        if kam:
            kam.stop()


async def wsgate_msrp_refused(wsgate_bin, url, *extra) -> tuple[int, str, str]:
    """`wsgate msrp` that must not get past AUTH: (exit code, stdout, stderr), within 20 s."""
    proc = await asyncio.create_subprocess_exec(str(wsgate_bin), "msrp", url, "--linger", "1", *extra,
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"wsgate msrp {url} {' '.join(extra)} still running after 20 s")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.mark.parametrize("leg", ["ws", "tcp"])
def test_wsgate_msrp_client_digest_auth_against_kamailio(wsgate_bin, leg):
    """`wsgate msrp --user --password` against Kamailio with Digest AUTH (RFC 4976 §5.3), over its WebSocket or its
    TCP leg: it answers the challenge, and a message goes both ways with the Python client (also authenticated) on
    Kamailio's TCP leg. Without credentials, with a wrong password, or as a user Kamailio does not know, it exits
    non-zero saying AUTH was refused with Kamailio's code, and prints no Use-Path. Kamailio's config logs every
    Digest verdict, so the test also sees that the CLI did send credentials (and which user)."""
    kam = Kamailio(name=f"kamailio-msrp-cli-digest-{leg}", digest=True)
    url = kam.ws_url if leg == "ws" else f"msrp://{HOST}:{kam.msrp_port};tcp"
    verdicts = re.compile(r"digest AUTH from \S+ (accepted|refused|forbidden) \(user \[([^\]]*)\]\)")
    try:
        async def go():
            bob = await mc.MsrpClient.connect_tcp(HOST, kam.msrp_port)
            await bob.auth(username=USER, password=PASSWORD)

            def verdicts_since(n: int) -> list[tuple[str, str]]:
                return verdicts.findall(kam.log.read_text(errors="replace"))[n:]

            n = len(verdicts_since(0))
            proc, path = await wsgate_msrp(wsgate_bin, url, "--user", USER, "--password", PASSWORD,
                                           "--to-path", " ".join(bob.path_for_peers()))
            try:
                # the CLI's first AUTH had no credentials, its second answered the challenge
                await kamailio_log(kam, lambda t: len(verdicts.findall(t)) >= n + 2, "the CLI's two AUTHs")
                assert verdicts_since(n) == [("refused", "<null>"), ("accepted", USER)], verdicts_since(n)
                assert path[0].startswith(f"msrp://{HOST}:{kam.msrp_port}/") and path[0] not in bob.use_path, path
                await cli_exchange(proc, bob, path, "hello, authenticated shell ✓", "hello, Bob, from alice")
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

            for creds, verdict in (([], [("refused", "<null>")]),
                                   (["--user", USER, "--password", "not-" + PASSWORD],
                                    [("refused", "<null>"), ("refused", USER)]),
                                   (["--user", "mallory", "--password", PASSWORD],
                                    [("refused", "<null>"), ("forbidden", "mallory")])):
                n = len(verdicts_since(0))
                rc, out, err = await wsgate_msrp_refused(wsgate_bin, url, *creds)
                code = "403" if verdict[-1][0] == "forbidden" else "401"
                assert rc != 0 and "Use-Path" not in out, (creds, rc, out, err)
                assert "AUTH" in err and code in err, (creds, err)
                await kamailio_log(kam, lambda t: len(verdicts.findall(t)) >= n + len(verdict), f"{creds}: {verdict}")
                assert verdicts_since(n) == verdict, (creds, verdicts_since(n))
            await bob.close()
        run(go())
        assert kam.alive()
    finally:
        kam.stop()


def test_msrps_between_two_relays(procs, wsgate_bin, pki, monkeypatch):
    """Two wsgate relays: one plain, one with a certificate (its MSRP port speaks msrps, its Use-Path says so).
    The plain relay reaches the TLS one over msrps (verified with the test CA); the way back is plain msrp."""
    plain = relay_server(procs, wsgate_bin, "wsgate-msrp-plain", "--msrp-ca-file", pki.ca)
    secure = relay_server(procs, wsgate_bin, "wsgate-msrp-tls", "--tls-cert", pki.cert, "--tls-key", pki.key,
                          "--msrp-host", "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))  # Python's default context then trusts the test CA

    async def go():
        alice = await mc.MsrpClient.connect_ws(plain.url("/msrp"))
        bob = await mc.MsrpClient.connect_ws(secure.url("/msrp", "wss", "localhost"))
        await alice.auth()
        await bob.auth()
        assert bob.use_path[0].startswith(f"msrps://localhost:{secure.msrp_port}/"), bob.use_path
        await alice.send_message(alice.use_path + bob.path_for_peers(), "over msrps")
        assert (await bob.wait_message(timeout=20)).body == b"over msrps"
        await bob.send_message(bob.use_path + alice.path_for_peers(), "and back over msrp")
        assert (await alice.wait_message(timeout=20)).body == b"and back over msrp"
        await alice.close()
        await bob.close()
    run(go())
    Procs.stop(plain.proc)
    Procs.stop(secure.proc)


async def connect_msrps(host: str, port: int, ca) -> mc.MsrpClient:
    """The Python client on a relay's msrps leg (MSRP over TLS, RFC 4975 §15), verifying it against `ca`."""
    ctx = ssl.create_default_context(cafile=str(ca))
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
    lh, lp = writer.get_extra_info("sockname")[:2]
    return mc.MsrpClient(mc.TcpTransport(reader, writer), mc.MsrpUri("msrps", lh, lp, mc.new_session_id(), "tcp"),
                         relay_uri=f"msrps://{host}:{port};tcp")


KAM_FRAME = re.compile(r"MSRP in from [\d.]+:(\d+) \((\w+)\) method=\[([^\]]*)\]")


async def kamailio_log(kam: Kamailio, done, what: str, timeout: float = 10.0) -> str:
    """Kamailio's log once done(text) holds (its config logs each MSRP frame it gets: source, transport, method)."""
    deadline = time.monotonic() + timeout
    while True:
        text = kam.log.read_text(errors="replace")
        if done(text):
            return text
        assert time.monotonic() < deadline, f"not in {kam.log} after {timeout}s: {what}"
        await asyncio.sleep(0.1)


def kamailio_frames(text: str) -> list[tuple[int, str, str]]:
    """(source port, transport, method) of each frame Kamailio logged; method "<null>" for a response."""
    return [(int(port), proto, method) for port, proto, method in KAM_FRAME.findall(text)]


def established(pgid: int, port: int) -> list[int]:
    """Local ports of the established TCP connections to 127.0.0.1:port held by process group pgid (ss)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "dst", f"{HOST}:{port}"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    ports = []
    for line in out.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        try:
            if any(os.getpgid(p) == pgid for p in pids):
                ports.append(int(line.split()[2].rsplit(":", 1)[1]))
        except ProcessLookupError:
            pass
    return ports


def msrps_chain(procs, wsgate_bin, pki, name: str, trust):
    """Kamailio with a TLS MSRP listener and wsgate with a certificate (its MSRP port speaks msrps), both
    presenting the test server certificate and verifying the next hop's against `trust`."""
    kam = Kamailio(name=f"kamailio-{name}", tls_cert=pki.cert, tls_key=pki.key, tls_ca=trust)
    try:
        srv = relay_server(procs, wsgate_bin, f"wsgate-{name}", "--tls-cert", pki.cert, "--tls-key", pki.key,
                           "--msrp-ca-file", trust)
    except BaseException:
        kam.stop()
        raise
    return kam, srv


def test_msrps_through_wsgate_and_kamailio_in_both_orders(procs, wsgate_bin, pki, monkeypatch):
    """test_through_wsgate_and_kamailio_in_both_orders over msrps: Alice on wsgate's wss leg, Bob on Kamailio's
    msrps leg. Both Use-Paths say msrps, so each relay reaches the other over TLS, checking its certificate
    against the test CA: wsgate → Kamailio's TLS port, then Kamailio → wsgate's MSRP port. Kamailio's log tells
    the transport each frame came in on; ss ties the connections to the processes."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))  # Alice's wss:// handshake trusts the test CA
    kam, srv = msrps_chain(procs, wsgate_bin, pki, "msrps-chain", pki.ca)
    try:
        async def go():
            alice = await mc.MsrpClient.connect_ws(srv.url("/msrp", "wss"))
            bob = await connect_msrps(HOST, kam.tls_port, pki.ca)
            await alice.auth()
            await bob.auth()
            assert alice.use_path[0].startswith(f"msrps://{HOST}:{srv.msrp_port}/"), alice.use_path
            # Kamailio: msrps because Bob's AUTH came over TLS; the host:port of the listener it came in on.
            assert len(bob.use_path) == 1 and re.fullmatch(rf"msrps://{HOST}:{kam.tls_port}/[^/;]+;tcp",
                                                           bob.use_path[0]), bob.use_path
            bob_port = bob.t.local[1]

            # Order 1: wsgate → (msrps) → Kamailio.
            await alice.send_message(alice.use_path + bob.path_for_peers(), "via wsgate then Kamailio, over msrps")
            got = await bob.wait_message(timeout=20)
            assert got.body == b"via wsgate then Kamailio, over msrps"
            assert got.from_path == [bob.use_path[0], alice.use_path[0], str(alice.uri)], got.from_path
            links = established(srv.proc.pid, kam.tls_port)
            assert links, "wsgate holds no connection to Kamailio's TLS port"
            assert not established(srv.proc.pid, kam.msrp_port) + established(srv.proc.pid, kam.ws_port)
            text = await kamailio_log(kam, lambda t: any(p in links and m == "SEND" for p, _, m in kamailio_frames(t)),
                                      f"a SEND from wsgate's connection (port {links})")
            from_wsgate = [f for f in kamailio_frames(text) if f[0] in links]
            assert {proto for _, proto, _ in from_wsgate} == {"tls"}, from_wsgate
            assert bob_port not in links

            # Order 2: Kamailio → (msrps) → wsgate; wsgate's 200 for the SEND comes back on that connection.
            await bob.send_message(bob.use_path + alice.path_for_peers(), "via Kamailio then wsgate, over msrps")
            got = await alice.wait_message(timeout=20)
            assert got.body == b"via Kamailio then wsgate, over msrps"
            assert got.from_path == [alice.use_path[0], bob.use_path[0], str(bob.uri)], got.from_path
            assert established(kam.proc.pid, srv.msrp_port), "Kamailio holds no connection to wsgate's MSRP port"
            text = await kamailio_log(kam, lambda t: any(p == srv.msrp_port for p, _, _ in kamailio_frames(t)),
                                      f"wsgate's 200 from its MSRP port {srv.msrp_port}")
            from_wsgate = [f for f in kamailio_frames(text) if f[0] == srv.msrp_port]
            assert from_wsgate and all(f[1:] == ("tls", "<null>") for f in from_wsgate), from_wsgate
            # Bob's own frames came over TLS too, and nothing reached Kamailio over plain TCP or WebSocket.
            assert {proto for _, proto, _ in kamailio_frames(text)} == {"tls"}, kamailio_frames(text)
            await alice.close()
            await bob.close()
        run(go())
        assert kam.alive()
        srv.assert_alive()
    finally:
        kam.stop()
        Procs.stop(srv.proc)


def test_msrps_between_wsgate_and_kamailio_checks_certificates(procs, wsgate_bin, pki, monkeypatch):
    """The same chain with both relays trusting only another CA: neither takes the other's certificate, so
    nothing crosses in either order — wsgate sends Alice a failure REPORT, and Kamailio, which has already
    answered Bob's SEND with 200, logs the failed verification and drops it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    kam, srv = msrps_chain(procs, wsgate_bin, pki, "msrps-untrusting", pki.other_ca)
    try:
        async def go():
            alice = await mc.MsrpClient.connect_ws(srv.url("/msrp", "wss"))
            bob = await connect_msrps(HOST, kam.tls_port, pki.ca)
            await alice.auth()
            await bob.auth()
            # wsgate → Kamailio: wsgate refuses Kamailio's certificate (OpenSSL on Kamailio's side: the alert).
            await alice.send_message(alice.use_path + bob.path_for_peers(), "to an untrusted Kamailio")
            report = (await alice.wait_report(timeout=40))[0]
            status = report.header("Status") or ""
            assert re.match(r"000 [45]\d\d", status), status
            assert report.to_path == [str(alice.uri)]
            await kamailio_log(kam, lambda t: "alert unknown ca" in t, "wsgate's TLS alert 'unknown ca'")
            # Kamailio → wsgate: Kamailio refuses wsgate's certificate.
            await bob.send_message(bob.use_path + alice.path_for_peers(), "to an untrusted wsgate")
            await kamailio_log(kam, lambda t: "certificate verify failed" in t, "Kamailio's failed verification")
            await asyncio.sleep(1.0)
            assert bob.completed.empty() and alice.completed.empty()
            assert not [m for m in bob.requests_in + alice.requests_in if m.method == "SEND"]
            await alice.close()
            await bob.close()
        run(go())
        assert kam.alive()
        srv.assert_alive()
    finally:
        kam.stop()
        Procs.stop(srv.proc)


def test_stale_nonce_over_websocket(procs, wsgate_bin, tmp_path):
    """A Digest answer to a nonce older than nonce_lifetime gets 401 with stale=true (RFC 2617 §3.2.1)."""
    users = htdigest(tmp_path / "users", "alice", "wonderland")
    config = tmp_path / "msrp.yaml"
    config.write_text(f"services:\n  - {{path: /msrp, type: msrp, port: {free_port()}, realm: {REALM}, "
                      f"htdigest: {users}, nonce_lifetime: 1}}\n")
    srv = start_server(procs, wsgate_bin, "wsgate-msrp-stale", "--config", config)

    async def go():
        a = await mc.MsrpClient.connect_ws(srv.url("/msrp"))
        relay_uri = a.relay_uri
        first = await a.request(mc.Message(tid=mc.new_tid(), method="AUTH",
                                           headers=[("To-Path", relay_uri), ("From-Path", str(a.uri))]))
        assert first.code == 401
        challenge = mc.parse_challenge(first.header("WWW-Authenticate"))
        await asyncio.sleep(2.5)
        authz = mc.digest_authorization(challenge, "alice", "wonderland", "AUTH", relay_uri, 1)
        late = await a.request(mc.Message(tid=mc.new_tid(), method="AUTH", headers=[
            ("To-Path", relay_uri), ("From-Path", str(a.uri)), ("Authorization", authz)]))
        assert late.code == 401 and "stale=true" in late.header("WWW-Authenticate"), late.header("WWW-Authenticate")
        # Answering the fresh challenge succeeds.
        fresh = mc.parse_challenge(late.header("WWW-Authenticate"))
        ok = await a.request(mc.Message(tid=mc.new_tid(), method="AUTH", headers=[
            ("To-Path", relay_uri), ("From-Path", str(a.uri)),
            ("Authorization", mc.digest_authorization(fresh, "alice", "wonderland", "AUTH", relay_uri, 1))]))
        assert ok.code == 200
        await a.close()
    run(go())
    Procs.stop(srv.proc)
