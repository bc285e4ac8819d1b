"""Shared fixtures for the interop tests: they drive a real `wsgate` binary.

The binary comes from $WSGATE_BIN, else .build/release/wsgate, else .build/debug/wsgate.
Every process started here logs to reports/logs/ (gitignored) so a failure can be
read afterwards, and is killed at the end of the session.
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from rawws import Ended, Reply, read_to_end

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
LOGS = REPORTS / "logs"
HOST = "127.0.0.1"  # loopback only, always
SUMMARY: list[str] = []  # lines tests want shown at the end of the run, pass or fail


def find_binary() -> Path:
    env = os.environ.get("WSGATE_BIN")
    if env:
        return Path(env).resolve()
    for cfg in ("release", "debug"):
        p = REPO / ".build" / cfg / "wsgate"
        if p.exists():
            return p
    return REPO / ".build" / "debug" / "wsgate"


def free_port() -> int:
    """A port the kernel just handed out on loopback (tiny race, fine for tests)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Block until HOST:port accepts a TCP connection; fail early if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {HOST}:{port} after {timeout}s")


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


class Procs:
    """Starts helper processes with output to a log file; stops them all at the end."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, args, name: str, **kw) -> tuple[subprocess.Popen, Path]:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = LOGS / f"{name}.log"
        f = open(log, "wb")
        # own process group, so stop() also reaches children (e.g. chromium's wrapper)
        p = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True, **kw)
        f.close()
        self.procs.append(p)
        return p, log

    @staticmethod
    def stop(p: subprocess.Popen, timeout: float = 10.0) -> int:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in self.procs:
            self.stop(p)


@pytest.fixture(scope="session")
def procs():
    ps = Procs()
    yield ps
    ps.stop_all()


@pytest.fixture(scope="session")
def wsgate_bin() -> Path:
    b = find_binary()
    if not os.access(b, os.X_OK):
        pytest.fail(f"wsgate binary not found at {b}: run `swift build -c release --product wsgate` "
                    "or set WSGATE_BIN")
    return b


class Server:
    """A running `wsgate serve` on HOST:port."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log

    def url(self, path: str = "/echo", scheme: str = "ws", host: str = HOST) -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def assert_alive(self):
        assert self.proc.poll() is None, (
            f"wsgate serve died (exit {self.proc.returncode}); last log lines of {self.log}:\n"
            + tail(self.log))


def raw_exchange(port: int, data: bytes, later: bytes = b"", wait: float = 0.3, timeout: float = 10.0,
                 half_close: bool = False) -> Reply:
    """Sends `data` over a plain TCP connection (and `later` after a pause of `wait` seconds; with `half_close`,
    then a FIN), and returns what came back until the server closed the connection — and whether it did (EOF,
    reset) or left it open for `timeout` seconds (`Ended.OPEN`): assert `reply.closed` where the server must
    hang up, `not reply.closed` where it must stay silent and keep the connection."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if later:
                time.sleep(wait)  # on purpose: `later` must come in a TCP segment of its own
                s.sendall(later)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            refused = False
        except (BrokenPipeError, ConnectionResetError):
            refused = True  # the server reset the connection before taking it all; what it sent before still counts
        reply = read_to_end(s, timeout)
        # after a failed send the kernel may report the reset as a plain end of stream
        return Reply(reply.data, Ended.RESET) if refused and reply.ended is Ended.EOF else reply


def start_server(procs: Procs, wsgate_bin: Path, name: str, *extra) -> Server:
    port = free_port()
    p, log = procs.start([wsgate_bin, "serve", "--host", HOST, "--port", port, *extra], name)
    try:
        wait_port(port, p)
    except Exception as e:
        Procs.stop(p)
        pytest.fail(f"wsgate serve did not start: {e}\n{tail(log)}")
    return Server(p, port, log)


def relay_server(procs: Procs, wsgate_bin: Path, name: str, *extra) -> Server:
    """`wsgate serve --msrp-port` (the MSRP relay), once both its WebSocket port and its MSRP port listen;
    `.msrp_port` is the latter."""
    msrp_port = free_port()
    srv = start_server(procs, wsgate_bin, name, "--msrp-port", msrp_port, *extra)
    srv.msrp_port = msrp_port
    wait_port(msrp_port, srv.proc)
    return srv


def start_config_server(procs: Procs, wsgate_bin: Path, name: str, config: Path, yaml: str, port: int) -> Server:
    """`wsgate serve --config` with `yaml` written to `config` (its listener on `port`), once it listens."""
    config.write_text(yaml)
    p, log = procs.start([wsgate_bin, "serve", "--config", config], name)
    try:
        wait_port(port, p)
    except Exception as e:
        Procs.stop(p)
        pytest.fail(f"wsgate serve --config {config} did not start: {e}\n{tail(log)}")
    return Server(p, port, log)


@pytest.fixture(scope="session")
def server(procs, wsgate_bin):
    """One `wsgate serve` shared by the whole session; it must survive every test."""
    s = start_server(procs, wsgate_bin, "wsgate-serve")
    yield s
    s.assert_alive()  # still alive after everything the tests threw at it = no crash
    rc = Procs.stop(s.proc)
    SUMMARY.append(f"wsgate serve exited {rc} after SIGTERM (log: {s.log})")


class PKI:
    """A test CA and a server certificate for 127.0.0.1 and localhost, made with openssl for this run."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ca = directory / "ca.pem"
        self.cert = directory / "server.pem"
        self.key = directory / "server-key.pem"
        self.other_ca = directory / "other-ca.pem"  # trusts nothing the server presents

    def make(self) -> "PKI":
        self.dir.mkdir(parents=True, exist_ok=True)
        ext = self.dir / "ext.cnf"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                       "extendedKeyUsage=serverAuth\n")
        steps = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wsgate interop CA",
             "-keyout", "ca-key.pem", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other CA",
             "-keyout", "other-ca-key.pem", "-out", "other-ca.pem"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server-key.pem",
             "-out", "server.csr"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem"],
        ]
        for step in steps:
            subprocess.run(["openssl", *step], cwd=self.dir, check=True, capture_output=True)
        return self

    def client_context(self):
        import ssl
        ctx = ssl.create_default_context(cafile=str(self.ca))
        return ctx


@pytest.fixture(scope="session")
def pki() -> PKI:
    return PKI(REPORTS / "pki").make()


@pytest.fixture(scope="session")
def tls_server(procs, wsgate_bin, pki):
    """`wsgate serve --tls-cert --tls-key`: wss:// only on its port."""
    s = start_server(procs, wsgate_bin, "wsgate-serve-tls", "--tls-cert", pki.cert, "--tls-key", pki.key)
    yield s
    s.assert_alive()
    Procs.stop(s.proc)


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    """After each test that used the shared server, check it is still up, so a
    crash is blamed on the test that caused it rather than on the next one."""
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").assert_alive()


def pytest_collection_modifyitems(items):
    # Quick tests first, the minutes-long Autobahn runs last.
    items.sort(key=lambda it: "test_autobahn" in it.nodeid)


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("interop summary")
        for line in SUMMARY:
            terminalreporter.write_line(line)
