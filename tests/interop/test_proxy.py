"""The wsgate client through a real HTTP CONNECT proxy (Debian's tinyproxy) to the gateway, ws:// and
wss://, with and without Basic proxy authentication, from --proxy and from the environment."""
import os
import shutil

import pytest

from conftest import HOST, LOGS, free_port, tail, wait_port
from test_cli_connect import LINES, connect_fails, connect_session, run_connect

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
USER, PASSWORD = "alice", "s3cret"  # tinyproxy's config syntax takes no punctuation here


def start_tinyproxy(procs, name, auth: bool):
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    conf = LOGS / f"{name}.conf"
    lines = [f"Port {port}", f"Listen {HOST}", "Timeout 60", "LogLevel Connect", "MaxClients 50", f"Allow {HOST}"]
    if auth:
        lines.append(f"BasicAuth {USER} {PASSWORD}")
    conf.write_text("\n".join(lines) + "\n")  # no ConnectPort line: CONNECT to any port
    p, log = procs.start([TINYPROXY, "-d", "-c", conf], name)
    wait_port(port, p)
    return port, log


@pytest.fixture(scope="module")
def proxy(procs):
    if not os.access(TINYPROXY, os.X_OK):
        pytest.fail("tinyproxy is not installed: run scripts/install-test-deps.sh")
    return start_tinyproxy(procs, "tinyproxy", auth=False)


@pytest.fixture(scope="module")
def auth_proxy(procs):
    return start_tinyproxy(procs, "tinyproxy-auth", auth=True)


def quoted(s: str) -> str:
    from urllib.parse import quote
    return quote(s, safe="")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(extra)
    return env


def tunnelled(log, port) -> bool:
    return f"CONNECT {HOST}:{port}" in log.read_text(errors="replace")


def test_ws_through_proxy_flag(wsgate_bin, server, proxy):
    port, log = proxy
    assert run_connect(wsgate_bin, server.url(), "--proxy", f"http://{HOST}:{port}", env=clean_env()) == LINES
    assert tunnelled(log, server.port), tail(log)


def test_wss_through_proxy(wsgate_bin, tls_server, pki, proxy):
    port, log = proxy
    lines, err = connect_session(wsgate_bin, tls_server.url("/echo", "wss", "localhost"), "--proxy",
                                 f"http://{HOST}:{port}", "--ca-file", str(pki.ca), env=clean_env())
    assert lines == LINES and "permessage-deflate" in err
    assert f"CONNECT localhost:{tls_server.port}" in log.read_text(errors="replace"), tail(log)


def test_proxy_from_environment_and_no_proxy(wsgate_bin, server, proxy):
    port, log = proxy
    before = log.read_text(errors="replace").count(f"CONNECT {HOST}:{server.port}")
    assert run_connect(wsgate_bin, server.url(), env=clean_env(HTTP_PROXY=f"http://{HOST}:{port}")) == LINES
    after = log.read_text(errors="replace").count(f"CONNECT {HOST}:{server.port}")
    assert after == before + 1, tail(log)
    # NO_PROXY names the host: straight to the gateway, the proxy sees nothing.
    env = clean_env(HTTP_PROXY=f"http://{HOST}:{port}", NO_PROXY=f"localhost,{HOST}")
    assert run_connect(wsgate_bin, server.url(), env=env) == LINES
    assert log.read_text(errors="replace").count(f"CONNECT {HOST}:{server.port}") == after


def test_proxy_basic_auth(wsgate_bin, server, auth_proxy):
    port, log = auth_proxy
    url = f"http://{USER}:{quoted(PASSWORD)}@{HOST}:{port}"
    assert run_connect(wsgate_bin, server.url(), "--proxy", url, env=clean_env()) == LINES
    assert tunnelled(log, server.port), tail(log)
    # Without credentials, and with wrong ones: 407, said plainly.
    err = connect_fails(wsgate_bin, server.url(), "--proxy", f"http://{HOST}:{port}", env=clean_env())
    assert "407" in err and "credentials" in err, err
    err = connect_fails(wsgate_bin, server.url(), "--proxy", f"http://{USER}:wrong@{HOST}:{port}", env=clean_env())
    assert ("407" in err or "401" in err) and "refused these credentials" in err, err


def test_unreachable_proxy_is_a_clear_error(wsgate_bin, server):
    dead = free_port()
    err = connect_fails(wsgate_bin, server.url(), "--proxy", f"http://{HOST}:{dead}", env=clean_env())
    assert f"cannot reach proxy {HOST}:{dead}" in err, err
