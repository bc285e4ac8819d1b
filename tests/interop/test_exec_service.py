"""The exec service (`wsgate serve --exec PATH=COMMAND`, `type: exec`) beside websocketd (Debian), the program
behind a WebSocket it is modelled on: the same programs (bash, python3) give the same messages and the same
environment; processes are bounded, reaped and stopped; a client that does not read pauses the program."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from conftest import HOST, LOGS, free_port, start_server, wait_port

BASH_PROGRAM = textwrap.dedent("""\
    #!/bin/bash
    echo "hello from bash"
    while read -r line; do echo "got: ${line^^}"; done
    echo "bye"
""")

PYTHON_ENV = textwrap.dedent("""\
    import os, sys
    for key in sorted(os.environ):
        print(f"{key}={os.environ[key]}")
    sys.stdout.flush()
""")


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    d = tmp_path_factory.mktemp("programs")
    bash = d / "upper.sh"
    bash.write_text(BASH_PROGRAM)
    bash.chmod(0o755)
    env = d / "env.py"
    env.write_text(PYTHON_ENV)
    return {"bash": str(bash), "env": f"{sys.executable} {env}"}


def websocketd(command: str):
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"websocketd-{port}.log", "wb")
    p = subprocess.Popen(["websocketd", f"--address={HOST}", f"--port={port}", *command.split()], stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    wait_port(port, p)
    return p, port


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)


def conversation(url, lines, headers=None):
    """Messages received while sending `lines` one at a time, then until the server closes."""
    got = []
    with connect(url, additional_headers=headers or {}, compression=None) as ws:
        got.append(ws.recv(timeout=10))
        for line in lines:
            ws.send(line)
            got.append(ws.recv(timeout=10))
        ws.close()
    return got


def test_the_same_bash_program_gives_the_same_messages_as_under_websocketd(procs, wsgate_bin, programs):
    wsd, wsd_port = websocketd(programs["bash"])
    gw = start_server(procs, wsgate_bin, "wsgate-exec-bash", "--exec", f"/=/bin/bash {programs['bash']}")
    try:
        lines = ["one", "two words", "ünïcode"]
        ours = conversation(f"ws://{HOST}:{gw.port}/", lines)
        theirs = conversation(f"ws://{HOST}:{wsd_port}/", lines)
    finally:
        stop(wsd)
    # Neither passes a locale on (websocketd passes PATH alone, as does wsgate): bash upper-cases ASCII only.
    assert ours == theirs == ["hello from bash", "got: ONE", "got: TWO WORDS", "got: üNïCODE"]


def environment(url, headers):
    with connect(url, additional_headers=headers, compression=None) as ws:
        lines = []
        try:
            while True:
                lines.append(ws.recv(timeout=10))
        except ConnectionClosed:
            pass
    return dict(line.split("=", 1) for line in lines)


def test_the_environment_is_websocketds(procs, wsgate_bin, programs):
    wsd, wsd_port = websocketd(programs["env"])
    gw = start_server(procs, wsgate_bin, "wsgate-exec-env", "--exec", f"/={programs['env']}")
    headers = {"X-Custom-Thing": "v", "Cookie": "a=b"}
    try:
        ours = environment(f"ws://{HOST}:{gw.port}/some/path?x=1&y=2", headers)
        theirs = environment(f"ws://{HOST}:{wsd_port}/some/path?x=1&y=2", headers)
    finally:
        stop(wsd)
    # What differs by nature: the server's name and port, the client's port, the handshake's key, the counters.
    differ = {"SERVER_SOFTWARE", "SERVER_PORT", "REMOTE_PORT", "HTTP_SEC_WEBSOCKET_KEY", "UNIQUE_ID",
              "HTTP_USER_AGENT"}
    assert set(ours) == set(theirs), (set(ours) ^ set(theirs))
    for key in set(theirs) - differ:
        assert ours[key] == theirs[key], (key, ours[key], theirs[key])
    assert ours["PATH_INFO"] == "/some/path" and ours["QUERY_STRING"] == "x=1&y=2"
    assert ours["HTTP_X_CUSTOM_THING"] == "v" and ours["REMOTE_ADDR"] == HOST
    assert ours["SERVER_PORT"] == str(gw.port)


def test_a_thousand_connections_leave_no_zombies_and_the_bound_answers_503(procs, wsgate_bin, tmp_path):
    config = tmp_path / "exec.yaml"
    config.write_text(textwrap.dedent(f"""\
        services:
          - path: /cat
            type: exec
            command: /bin/cat
            max_processes: 100
          - path: /two
            type: exec
            command: [/bin/sleep, "30"]
            max_processes: 2
        """))
    gw = start_server(procs, wsgate_bin, "wsgate-exec-many", "--config", config)

    async def one(i):
        async with aconnect(f"ws://{HOST}:{gw.port}/cat", compression=None) as ws:
            await ws.send(f"line {i}")
            assert await asyncio.wait_for(ws.recv(), 10) == f"line {i}"

    async def all_of_them():
        for batch in range(10):
            await asyncio.gather(*(one(batch * 100 + i) for i in range(100)))

    asyncio.run(all_of_them())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = subprocess.run(["ps", "--ppid", str(gw.proc.pid), "-o", "pid=,stat="], capture_output=True,
                                  text=True).stdout.split("\n")
        children = [c for c in children if c.strip()]
        if not children:
            break
        time.sleep(0.2)
    assert children == [], f"children left after 1,000 connections: {children}"

    first, second = connect(f"ws://{HOST}:{gw.port}/two"), connect(f"ws://{HOST}:{gw.port}/two")
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://{HOST}:{gw.port}/two")
        assert refused.value.response.status_code == 503
    finally:
        first.close()
        second.close()
    # The slots come back once those programs are stopped.
    deadline = time.monotonic() + 10
    while True:
        try:
            connect(f"ws://{HOST}:{gw.port}/two").close()
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "the bound never freed its slots"
            time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.split()[2] != "Z"


def test_a_program_that_ignores_term_is_killed_after_the_grace(procs, wsgate_bin, tmp_path):
    config = tmp_path / "stubborn.yaml"
    config.write_text(textwrap.dedent("""\
        services:
          - path: /stubborn
            type: exec
            command: [/bin/bash, -c, 'trap "" TERM; echo $$; while true; do sleep 0.1; done']
            kill_grace: 1
        """))
    gw = start_server(procs, wsgate_bin, "wsgate-exec-stubborn", "--config", config)
    ws = connect(f"ws://{HOST}:{gw.port}/stubborn")
    pid = int(ws.recv(timeout=10))
    assert alive(pid)
    ws.close()
    time.sleep(0.5)
    assert alive(pid), "TERM is ignored: the program should still be running within the grace"
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the program outlived TERM and the grace: it should have been killed"


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_client_that_never_reads_pauses_the_program_not_the_gateway(procs, wsgate_bin):
    gw = start_server(procs, wsgate_bin, "wsgate-exec-yes", "--exec", "/yes=/bin/sh -c 'echo $$; exec yes'")
    ws = connect(f"ws://{HOST}:{gw.port}/yes", max_queue=1)
    pid = int(ws.recv(timeout=10).strip("'"))
    time.sleep(2)  # the socket buffers and the pipe fill
    before_cpu, before_rss = cpu_ticks(pid), rss_kib(gw.proc.pid)
    time.sleep(2)
    after_cpu, after_rss = cpu_ticks(pid), rss_kib(gw.proc.pid)
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    ws.close()
    assert state == "S", f"yes should be asleep on its full pipe, is {state}"
    assert after_cpu - before_cpu <= 5, f"yes kept running ({after_cpu - before_cpu} ticks in 2 s)"
    assert after_rss - before_rss < 10 * 1024, f"the gateway grew {after_rss - before_rss} KiB while paused"
    # A fast reader then gets the output flowing again (the pause was backpressure, not a stop).


def test_bad_programs(procs, wsgate_bin, tmp_path):
    gw = start_server(procs, wsgate_bin, "wsgate-exec-bad", "--max-message-size", str(1 << 20),
                      "--exec", f"/flood={sys.executable} -c \"import sys; sys.stdout.write('x' * 100_000_000)\"",
                      "--exec", "/true=/bin/true", "--exec", "/three=/bin/sh -c 'exit 3'")
    with connect(f"ws://{HOST}:{gw.port}/true") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1000
    with connect(f"ws://{HOST}:{gw.port}/three") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1011 and "exited with status 3" in closed.value.rcvd.reason
    with connect(f"ws://{HOST}:{gw.port}/flood", max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=20)
    assert closed.value.rcvd.code == 1009
    gw.assert_alive()

    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  - path: /x\n    type: exec\n    command: /no/such/program --flag\n")
    r = subprocess.run([str(wsgate_bin), "serve", "--check-config", str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "no program at /no/such/program" in r.stderr + r.stdout, (r.stdout, r.stderr)
    r = subprocess.run([str(wsgate_bin), "serve", "--exec", "/x=nosuchprogram-anywhere"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and "no program nosuchprogram-anywhere on PATH" in r.stderr, r.stderr


def test_the_identity_reaches_the_program_and_its_stderr_the_log(procs, wsgate_bin, programs, tmp_path):
    """With access control, the program learns who connected (AUTH_TYPE, REMOTE_USER: the API key's name), and what
    it writes on stderr lands in the gateway's log, not in any message."""
    import hashlib
    keys = tmp_path / "keys"
    keys.write_text(hashlib.sha256(b"s3cret-key").hexdigest() + " alice\n")
    script = tmp_path / "noisy.sh"
    script.write_text("#!/bin/sh\necho \"to the log from $REMOTE_USER\" >&2\necho \"$AUTH_TYPE $REMOTE_USER\"\n")
    script.chmod(0o755)
    gw = start_server(procs, wsgate_bin, "wsgate-exec-identity", "--api-key-file", keys, "--exec", f"/who={script}")
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{HOST}:{gw.port}/who")
    assert refused.value.response.status_code == 401
    with connect(f"ws://{HOST}:{gw.port}/who", additional_headers={"Authorization": "Bearer s3cret-key"}) as ws:
        assert ws.recv(timeout=10) == "api_key alice"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)  # the program ended: nothing else came, stderr included
    deadline = time.monotonic() + 5
    while "to the log from alice" not in gw.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "to the log from alice" in gw.log.read_text()


def test_a_program_that_does_not_read_pauses_the_client(procs, wsgate_bin):
    """Backpressure the other way: a program that never reads its stdin lets at most a few hundred KiB pile up in the
    gateway; then reading from the client stops, so a client sending as fast as it can is held back by TCP."""
    gw = start_server(procs, wsgate_bin, "wsgate-exec-sleepy", "--exec", "/sleepy=/bin/sleep 60")
    ws = connect(f"ws://{HOST}:{gw.port}/sleepy", compression=None)
    before = rss_kib(gw.proc.pid)
    sent = 0
    chunk = "x" * 65536
    ws.socket.settimeout(0.5)
    started = time.monotonic()
    try:
        while time.monotonic() - started < 8:
            ws.send(chunk)
            sent += len(chunk)
    except (TimeoutError, OSError, ConnectionClosed):
        pass  # the socket stopped taking data (a send timed out): the gateway is not reading
    grown = rss_kib(gw.proc.pid) - before
    ws.socket.close()
    assert time.monotonic() - started < 8, "every send went through for 8 s: no backpressure"
    assert sent < 64 << 20, f"sent {sent >> 20} MiB to a program that reads nothing: no backpressure"
    assert grown < 40 * 1024, f"the gateway grew {grown} KiB"
