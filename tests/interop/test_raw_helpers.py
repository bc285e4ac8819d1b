"""The raw-socket helpers judged against listeners whose behaviour is known, so that a test built on them fails
when the server hangs instead of hanging up: a silent listener (the kernel completes the TCP handshake, nobody
ever reads or answers), one that answers and closes (FIN), one that resets (RST)."""
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

import rawws
from conftest import HOST, raw_exchange
from rawws import Ended, Reply

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers" / "rtmp"))
import rtmpraw as rr  # noqa: E402

SHORT = 1.0  # seconds a helper waits here for a close that a silent listener never sends


@pytest.fixture
def listener():
    with socket.create_server((HOST, 0)) as s:
        yield s


def serve_once(listener: socket.socket, answer: bytes, reset: bool = False) -> threading.Thread:
    """In the background: accept one connection, read what it sends until the blank line, write `answer`, then
    close it — with a reset (SO_LINGER 0) if asked."""
    def run():
        conn, _ = listener.accept()
        with conn:
            got = b""
            while b"\r\n\r\n" not in got and (data := conn.recv(65536)):
                got += data
            conn.sendall(answer)
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def port_of(listener: socket.socket) -> int:
    return listener.getsockname()[1]


def test_raw_exchange_reports_a_silent_server_as_still_open(listener):
    start = time.monotonic()
    reply = raw_exchange(port_of(listener), b"hello?\r\n\r\n", timeout=SHORT)
    assert reply == Reply(b"", Ended.OPEN) and not reply.closed
    assert SHORT <= time.monotonic() - start < SHORT + 2  # bounded by its timeout, not more


def test_raw_exchange_reports_a_close(listener):
    serve_once(listener, b"bye")
    reply = raw_exchange(port_of(listener), b"hello?\r\n\r\n")
    assert reply == Reply(b"bye", Ended.EOF) and reply.closed


def test_raw_exchange_reports_a_reset(listener):
    serve_once(listener, b"", reset=True)
    reply = raw_exchange(port_of(listener), b"hello?\r\n\r\n")
    assert reply == Reply(b"", Ended.RESET) and reply.closed


def test_raw_exchange_half_close_sends_a_fin(listener):
    """With `half_close` the listener reads to the end of the stream even without the blank line."""
    serve_once(listener, b"seen your FIN")
    assert raw_exchange(port_of(listener), b"no blank line", half_close=True) == Reply(b"seen your FIN", Ended.EOF)


def test_rawws_expect_eof_fails_on_a_silent_server(listener):
    c = rawws.Conn(rawws.connect(port_of(listener)))
    with pytest.raises(AssertionError, match="did not close"):
        c.expect_eof(SHORT)
    c.close()


def test_rawws_expect_eof_takes_a_reset_only_when_told(listener):
    for reset_ok in (False, True):
        serve_once(listener, b"", reset=True)
        c = rawws.Conn(rawws.connect(port_of(listener)))
        c.send(b"\r\n\r\n")
        if reset_ok:
            c.expect_eof(reset_ok=True)
        else:
            with pytest.raises(AssertionError, match="reset"):
                c.expect_eof()
        c.close()


def test_rawws_read_close_fails_on_a_silent_server(listener):
    c = rawws.Conn(rawws.connect(port_of(listener)))
    with pytest.raises(TimeoutError):
        c.read_close(SHORT)
    c.close()


def test_rtmpraw_expect_eof_fails_on_a_silent_server(listener):
    c = rr.Client(port_of(listener))
    with pytest.raises(TimeoutError):
        c.expect_eof(SHORT)
    c.close()
