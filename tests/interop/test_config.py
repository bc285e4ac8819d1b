"""`wsgate serve --config FILE` and `--check-config FILE`: a file with two listeners and per-service
settings is served as written; a broken file is reported line by line and refused."""
import asyncio
import subprocess

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import HOST, LOGS, Procs, free_port, tail, wait_port


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_check_config_reports_lines(wsgate_bin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("listeners:\n  - port: 80800\nservices:\n  - path: /echo\n    type: echo\n    colour: red\n")
    p = subprocess.run([str(wsgate_bin), "serve", "--check-config", str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert f"{bad}:2:11: listener port must be between 0 and 65535, not 80800" in lines, p.stderr
    assert any(line.startswith(f"{bad}:6:5: unknown key \"colour\" in a service") for line in lines), p.stderr
    good = tmp_path / "good.yaml"
    good.write_text("services:\n  - {path: /e, type: echo}\n")
    p = subprocess.run([str(wsgate_bin), "serve", "--check-config", str(good)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "ok" in p.stdout


def test_serve_from_a_config_file(procs, wsgate_bin, tmp_path):
    a, b = free_port(), free_port()
    conf = tmp_path / "wsgate.yaml"
    conf.write_text(f"""
listeners:
  - {{host: {HOST}, port: {a}}}
  - {{host: {HOST}, port: {b}}}
services:
  - path: /talk
    type: echo
    allowed_origins: [https://ok.example]
    compression: off
limits:
  max_message_size: 1000
log:
  format: json
""")
    p, log = procs.start([wsgate_bin, "serve", "--config", conf], "wsgate-serve-config")
    wait_port(a, p)
    wait_port(b, p)

    async def go():
        for port in (a, b):
            async with connect(f"ws://{HOST}:{port}/talk", origin="https://ok.example", compression="deflate") as ws:
                assert "Sec-WebSocket-Extensions" not in ws.response.headers  # compression: off
                await ws.send("x" * 1000)
                assert await ws.recv() == "x" * 1000
                await ws.send("x" * 1001)  # over max_message_size
                await asyncio.wait_for(ws.wait_closed(), 10)
                assert ws.close_code == 1009
        with pytest.raises(InvalidStatus) as e:
            await connect(f"ws://{HOST}:{a}/talk", origin="https://no.example")
        assert e.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as e:
            await connect(f"ws://{HOST}:{a}/echo")  # not in this file
        assert e.value.response.status_code == 404

    run(go())
    assert Procs.stop(p) == 0
    assert '"msg":"wsgate listening on ws://' in log.read_text(), tail(log)
