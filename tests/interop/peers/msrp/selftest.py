#!/usr/bin/env python3
"""Self-test: msrp_client.py against a real Kamailio 5.6 MSRP relay, over real loopback sockets.

    .deps/py/bin/python tests/interop/peers/msrp/selftest.py [--digest] [--captures FILE] [--trace]

Starts run_kamailio.sh on free ports (logs: reports/logs/kamailio-msrp*.log), then:
  A = WebSocket client (subprotocol msrp), B = TCP client; both AUTH to Kamailio and get a Use-Path.
  A -> B and B -> A through the relay (full RFC 4976 path and the short one), 100 000 bytes in 10
  chunks both ways (binary: WebSocket binary frames), Success-Report -> REPORT relayed back, and the
  edge cases whose answers the README lists (unknown session, closed next hop, big chunks, fragmented
  WebSocket message, Failure-Report: no, unknown method, Expires bounds, a directly listening endpoint).
Prints what it did; exits non-zero on the first failed check. Every process is stopped at the end.
The helpers (free_port, start_kamailio) are meant to be reused by pytest interop tests.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import msrp_client as mc  # noqa: E402

REPO = HERE.parents[3]
LOGS = REPO / "reports" / "logs"
HOST = "127.0.0.1"
USER, PASSWORD = "alice", "secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kamailio exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {HOST}:{port}")


class Kamailio:
    """run_kamailio.sh in its own process group; .msrp_port (TCP MSRP), .ws_port (WebSocket), .log.

    With tls_cert and tls_key (PEM files) Kamailio also speaks msrps on .tls_port (None otherwise) with that
    certificate, and verifies the msrps next hops it connects to against tls_ca (not at all without it).
    Its use_path_addr is then unset, so a Use-Path names the listener its AUTH came in on."""

    def __init__(self, name: str = "kamailio-msrp", digest: bool = False, env: dict | None = None,
                 tls_cert: str | os.PathLike | None = None, tls_key: str | os.PathLike | None = None,
                 tls_ca: str | os.PathLike | None = None):
        self.msrp_port, self.ws_port = free_port(), free_port()
        self.tls_port = free_port() if tls_cert else None
        self.rundir = REPO / "reports" / "run" / name
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{name}.log"
        e = dict(os.environ)
        if self.tls_port:
            e.update(MSRP_TLS_PORT=str(self.tls_port), MSRP_TLS_CERT=str(tls_cert), MSRP_TLS_KEY=str(tls_key))
            if tls_ca:
                e.update(MSRP_TLS_CA=str(tls_ca))
        e.update(env or {})
        if digest:
            e.update(MSRP_DIGEST="1", MSRP_USER=USER, MSRP_PASSWORD=PASSWORD)
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(
                ["nice", str(HERE / "run_kamailio.sh"), str(self.msrp_port), str(self.ws_port), str(self.rundir)],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=e, start_new_session=True)
        try:
            for port in (self.msrp_port, self.ws_port, self.tls_port):
                if port:
                    wait_port(port, self.proc)
        except BaseException:
            self.stop()
            raise

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.ws_port}/"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


# --- reporting -------------------------------------------------------------------------------------------

FAILED = []


def say(s: str = ""):
    print(s, flush=True)


def check(cond, what: str):
    say(f"  [{'ok' if cond else 'FAIL'}] {what}")
    if not cond:
        FAILED.append(what)
        raise AssertionError(what)


class Capture:
    def __init__(self):
        self.sections: list[str] = []

    def add(self, title: str, frames: list[tuple[str, bytes]]):
        out = [f"### {title}", "", "```"]
        for label, data in frames:
            out.append(f"--- {label} ({len(data)} bytes)")
            out.append(mc.escape(data).rstrip("\n"))
        out += ["```", ""]
        self.sections.append("\n".join(out))

    def write(self, path: str):
        Path(path).write_text("\n".join(self.sections))


def mark(*cs: mc.MsrpClient) -> list[int]:
    return [len(c.wire) for c in cs]


def since(m: list[int], *named: tuple[mc.MsrpClient, str]) -> list[tuple[str, bytes]]:
    """Frames on the given clients' connections after mark(), in the order they were sent/received."""
    rows = []
    for start, (c, who) in zip(m, named):
        for seq, d, data in c.wire[start:]:
            rows.append((seq, f"{who} -> Kamailio" if d == ">>" else f"Kamailio -> {who}", data))
    return [(label, data) for _, label, data in sorted(rows)]


# --- the run ---------------------------------------------------------------------------------------------

async def run(args) -> None:
    digest = args.digest
    cred = dict(username=USER, password=PASSWORD) if digest else {}
    k = Kamailio("kamailio-msrp-digest" if digest else "kamailio-msrp", digest=digest)
    cap = Capture()
    trace = mc._printer if args.trace else None
    try:
        say(f"Kamailio {'(Digest AUTH) ' if digest else ''}up: MSRP tcp {HOST}:{k.msrp_port}, "
            f"WebSocket {k.ws_url} (log {k.log})")

        # 1. AUTH on both legs
        say("\n1. AUTH")
        a = await mc.MsrpClient.connect_ws(k.ws_url, trace=trace)
        m = mark(a)
        up_a, exp_a = await a.auth(**cred)
        cap.add("AUTH over WebSocket (A)" + (" with Digest" if digest else ""), since(m, (a, "A (ws)")))
        say(f"  A (ws)  uri {a.uri}\n          Use-Path {' '.join(up_a)} Expires {exp_a}")
        check(len(up_a) == 1 and up_a[0].startswith(f"msrp://{HOST}:{k.msrp_port}/") and up_a[0].endswith(";tcp"),
              "A's Use-Path is msrp://127.0.0.1:<msrp port>/<sid>;tcp")
        b = await mc.MsrpClient.connect_tcp(HOST, k.msrp_port, trace=trace)
        m = mark(b)
        up_b, exp_b = await b.auth(**cred)
        cap.add("AUTH over TCP (B)" + (" with Digest" if digest else ""), since(m, (b, "B (tcp)")))
        say(f"  B (tcp) uri {b.uri}\n          Use-Path {' '.join(up_b)} Expires {exp_b}")
        check(up_a != up_b, "distinct sessions for A and B")
        if digest:
            check(a.frames_in[0].startswith(b"MSRP ") and b" 401 " in a.frames_in[0],
                  "first AUTH answered 401 with a Digest challenge")
            c = await mc.MsrpClient.connect_ws(k.ws_url)
            try:
                await c.auth(username=USER, password="wrong")
                check(False, "bad password refused")
            except mc.MsrpError as e:
                check(e.response.code == 401, f"bad password -> {e.response.code} (Kamailio re-challenges)")
            try:
                await c.auth()
                check(False, "AUTH without credentials refused")
            except mc.MsrpError as e:
                check(e.response.code == 401, "AUTH without credentials -> 401")
            try:
                await c.auth(username=USER, password=PASSWORD, digest_method="MSRP")
                check(False, "digest over method MSRP refused")
            except mc.MsrpError as e:
                check(e.response.code == 401, "digest computed with method MSRP -> 401 (this config wants AUTH)")
            up, ex = await c.auth(username=USER, password=PASSWORD, expires=600)
            check(ex == 0, f"Digest AUTH with Expires: 600 -> 200 with Expires: {ex} (Kamailio bug, see README)")
            await c.close()

        # 2. A -> B, full RFC 4976 path: A's Use-Path, B's Use-Path, B
        say("\n2. A (ws) -> B (tcp), To-Path = A's Use-Path + B's Use-Path + B")
        path = up_a + b.path_for_peers()
        rs = await a.send_message(path, "hello B, from A over WebSocket")
        inc = await b.wait_message(5)
        say(f"  B got {inc.body!r}\n  From-Path at B: {' '.join(inc.from_path)}")
        check(rs[0].code == 200, "A got 200 for its SEND (from Kamailio, hop by hop)")
        check(inc.body == b"hello B, from A over WebSocket", "B received the body intact")
        check(inc.from_path == [up_b[0], up_a[0], str(a.uri)],
              "From-Path at B = B's relay URI, A's relay URI, A (Kamailio hopped through itself)")

        # 3. short path: B's Use-Path + B only (Kamailio does not care which connection a SEND came on)
        say("\n3. A -> B, To-Path = B's Use-Path + B (one relay hop)")
        m = mark(a, b)
        rs = await a.send_message(b.path_for_peers(), "short path", message_id="capture1")
        inc = await b.wait_message(5)
        await asyncio.sleep(0.2)
        cap.add("Relayed SEND, WebSocket A -> Kamailio -> TCP B (To-Path = B's Use-Path + B)",
                since(m, (a, "A (ws)"), (b, "B (tcp)")))
        check(inc.body == b"short path" and rs[0].code == 200, "delivered, A got 200")
        check(inc.requests[0].tid == rs[0].tid,
              "Kamailio forwards with the SAME transaction id (RFC 4975 wants a new one per hop)")

        # 4. B -> A, full path and short
        say("\n4. B (tcp) -> A (ws)")
        m = mark(a, b)
        rs = await b.send_message(up_b + a.path_for_peers(), "hello A, from B over TCP")
        inc = await a.wait_message(5)
        await asyncio.sleep(0.2)
        say(f"  A got {inc.body!r}\n  From-Path at A: {' '.join(inc.from_path)}")
        check(inc.body == b"hello A, from B over TCP" and rs[0].code == 200, "delivered, B got 200")
        cap.add("Relayed SEND over the full path, TCP B -> Kamailio -> Kamailio -> WebSocket A "
                "(To-Path = B's Use-Path + A's Use-Path + A; the Kamailio -> Kamailio TCP hop is not shown)",
                since(m, (b, "B (tcp)"), (a, "A (ws)")))
        m = mark(a, b)
        rs = await b.send_message(a.path_for_peers(), "short path back", message_id="capture2")
        inc = await a.wait_message(5)
        await asyncio.sleep(0.2)
        cap.add("Relayed SEND, TCP B -> Kamailio -> WebSocket A (To-Path = A's Use-Path + A)",
                since(m, (b, "B (tcp)"), (a, "A (ws)")))
        check(inc.body == b"short path back", "short path B -> A delivered")

        # 5. multi-chunk, binary, both ways
        say("\n5. 100 000 bytes in 10 chunks of 10 000 (binary)")
        blob = os.urandom(100_000)
        for src, dst, name in ((a, b, "A -> B"), (b, a, "B -> A")):
            t0 = time.monotonic()
            bin_before = getattr(dst.t, "binary_in", 0)
            rs = await src.send_message(src.use_path + dst.path_for_peers(), blob,
                                        content_type="application/octet-stream", chunk_size=10_000)
            inc = await dst.wait_message(10)
            say(f"  {name}: {len(rs)} chunks, {inc.chunks} received, {len(inc.body)} bytes, "
                f"md5 {hashlib.md5(inc.body).hexdigest()[:12]}, {time.monotonic() - t0:.2f}s")
            check(all(r.code == 200 for r in rs) and inc.body == blob and inc.chunks == 10,
                  f"{name}: 10 chunks, body intact")
            if dst is a:
                check(a.t.binary_in - bin_before == 10, "Kamailio sent the binary chunks as binary WebSocket frames")

        # 6. Success-Report -> REPORT relayed back
        say("\n6. Success-Report: yes (B sends a REPORT back along the From-Path)")
        rs = await a.send_message(up_a + b.path_for_peers(), "report please", success_report="yes")
        await b.wait_message(5)
        reps = await a.wait_report(5)
        r = reps[-1]
        say(f"  A got REPORT Status {r.header('Status')}, Byte-Range {r.header('Byte-Range')}")
        check(r.header("Status") == "000 200 OK", "REPORT relayed to A")
        await asyncio.sleep(0.3)
        check(not [x for x in b.responses_in if x.tid == r.tid], "nobody answers a REPORT")

        # 7. edge cases
        say("\n7. Edge cases")
        bogus = f"msrp://{HOST}:{k.msrp_port}/nosuchsession;tcp"
        try:
            await a.send_message([bogus, "msrp://x.invalid:2855/y;tcp"], "x")
            check(False, "unknown session refused")
        except mc.MsrpError as e:
            say(f"  unknown session id -> {e.response.code} {e.response.comment}")
            check(e.response.code == 481, "unknown session -> 481")

        sid_b = mc.MsrpUri.parse(up_b[0]).session
        rs = await a.send_message([f"msrps://relay.example.com:9/{sid_b};tcp", str(b.uri)], "foreign host")
        try:
            inc = await b.wait_message(2)
            say(f"  To-Path msrps://relay.example.com:9/<B's sid>;tcp + B -> {rs[0].code}, B got {inc.body!r}: "
                "only the session id of the first URI is looked at")
        except asyncio.TimeoutError:
            say(f"  To-Path with a foreign host and B's session id -> {rs[0].code}, B got nothing")

        rs = await a.send_message(up_a + b.path_for_peers(), "no failure report", failure_report="no")
        inc = await b.wait_message(5)
        await asyncio.sleep(0.3)
        say(f"  Failure-Report: no -> responses {rs}, B got {inc.body!r}, unmatched at A: {[(x.tid, x.code) for x in a.unmatched]}")
        check(rs == [None] and inc.body == b"no failure report" and not a.unmatched,
              "Failure-Report: no -> delivered, no 200 to A (and B sent none)")

        r = await a.request(mc.Message(tid=mc.new_tid(), method="FOO",
                                       headers=[("To-Path", up_a[0]), ("From-Path", str(a.uri))]))
        say(f"  unknown method FOO -> {r.code} {r.comment}")
        check(r.code == 501, "unknown method -> 501")

        # framing oddities, each on a throwaway connection
        c = await mc.MsrpClient.connect_tcp(HOST, k.msrp_port)
        await c.send_raw(mc.Message(tid=mc.new_tid(), method="REPORT", headers=[
            ("To-Path", f"{bogus} msrp://x.invalid:2855/y;tcp"), ("From-Path", str(c.uri)), ("Message-ID", "m"),
            ("Byte-Range", "1-1/1"), ("Status", "000 200 OK")]).encode())
        await asyncio.sleep(0.5)
        say(f"  REPORT to an unknown session -> {len(c.frames_in)} answers (config guard; see README)")
        check(not c.frames_in, "no answer to a REPORT")
        await c.send_raw(b"MSRP abcd1234 SEND\r\nFrom-Path: " + str(c.uri).encode() +
                         b"\r\nTo-Path: " + up_b[0].encode() + b" " + str(b.uri).encode() +
                         b"\r\nMessage-ID: m\r\nByte-Range: 1-1/1\r\nContent-Type: text/plain\r\n\r\n"
                         b"x\r\n-------abcd1234$\r\n")
        await asyncio.sleep(0.5)
        say(f"  SEND with From-Path before To-Path -> {len(c.frames_in)} answers, connection "
            f"{'closed' if c.closed.is_set() else 'open'}")
        await c.close()
        f3 = (b"MSRP 49fi AUTH\r\nTo-Path: msrps://alice@a.example.com:443;ws\r\n"
              b"From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n-----49fi$\r\n")
        for leg in ("ws", "tcp"):
            c = await (mc.MsrpClient.connect_ws(k.ws_url) if leg == "ws" else mc.MsrpClient.connect_tcp(HOST, k.msrp_port))
            await c.send_raw(f3)
            await asyncio.sleep(0.5)
            say(f"  {leg}: AUTH ending in '-----49fi$' (5 dashes, as printed in the seed) -> {len(c.frames_in)} "
                f"answers, connection {'closed' if c.closed.is_set() else 'open'}")
            await c.close()
        c = await mc.MsrpClient.connect_ws(k.ws_url)
        two = b"".join(mc.Message(tid=mc.new_tid(), method="AUTH", headers=[
            ("To-Path", f"msrp://{HOST}:{k.ws_port};ws"), ("From-Path", str(c.uri))]).encode() for _ in range(2))
        await c.t.ws.send(two.decode())
        await asyncio.sleep(0.5)
        say(f"  two AUTHs in one WebSocket message -> {len(c.frames_in)} answer(s)")
        await c.close()

        if not digest:
            c = await mc.MsrpClient.connect_ws(k.ws_url)
            for ex, want in ((10, 423), (99999, 423), (600, 200)):
                try:
                    up, got = await c.auth(expires=ex)
                    say(f"  AUTH Expires: {ex} -> 200, Expires: {got}")
                    check(want == 200 and got == 3600,
                          "in-range Expires -> 200 but Kamailio answers auth_max_expires (ignores it)")
                except mc.MsrpError as e:
                    hdr = e.response.header("Min-Expires") or e.response.header("Max-Expires")
                    say(f"  AUTH Expires: {ex} -> {e.response.code} ({hdr})")
                    check(e.response.code == want, f"Expires {ex} -> 423 (from the config, see README)")
            await c.close()

        # big chunks: Kamailio builds a fake SIP message from each frame in a static buffer; a frame of
        # 11 239 bytes or more gets none, the route sees no $msrp(method) and our config answers 501.
        # (msrp_relay() itself refuses frames of 14 337 bytes or more.)
        for src, dst, leg in ((a, b, "ws in"), (b, a, "tcp in")):
            for size in (10_240, 10_800, 10_900, 14_000):
                try:
                    rs = await src.send_message(src.use_path + dst.path_for_peers(), b"z" * size, chunk_size=size)
                    ans = rs[0].code
                except mc.MsrpError as e:
                    ans = f"{e.response.code} {e.response.comment}" if e.response else str(e)
                try:
                    inc = await dst.wait_message(1)
                    got = len(inc.body)
                except asyncio.TimeoutError:
                    got = None
                frame = len(src.frames_out[-1])
                say(f"  {leg}: one chunk of {size} bytes (frame {frame}): sender got {ans}, "
                    f"receiver got {got if got is not None else 'nothing'}")
        # a frame of 64 KiB or more: Kamailio closes the connection (WebSocket: BUF_SIZE 65535; TCP too)
        for leg in ("ws", "tcp"):
            c = await (mc.MsrpClient.connect_ws(k.ws_url) if leg == "ws"
                       else mc.MsrpClient.connect_tcp(HOST, k.msrp_port))
            await c.auth(**cred)
            try:
                rs = await c.send_message(c.use_path + b.path_for_peers(), b"z" * 70_000, timeout=3)
                ans = rs[0].code
            except (mc.MsrpError, asyncio.TimeoutError) as e:
                ans = str(e) or type(e).__name__
            await asyncio.sleep(0.3)
            extra = f", close code {c.t.ws.close_code}" if leg == "ws" else ""
            say(f"  {leg} in: one chunk of 70 000 bytes: sender got {ans}{extra}; "
                f"connection {'closed' if c.closed.is_set() else 'open'}")
            await c.close()
        check(k.alive(), "Kamailio still up")

        # fragmented WebSocket message (RFC 6455 allows it; Kamailio does not reassemble for MSRP)
        c = await mc.MsrpClient.connect_ws(k.ws_url)
        await c.auth(**cred)
        msg = mc.Message(tid=mc.new_tid(), method="SEND",
                         headers=[("To-Path", " ".join(c.use_path + b.path_for_peers())),
                                  ("From-Path", str(c.uri)), ("Message-ID", "frag"), ("Byte-Range", "1-10/10"),
                                  ("Content-Type", "text/plain")], body=b"fragmented").encode().decode()
        fut = asyncio.get_running_loop().create_future()
        c.pending[mc.parse_message(msg.encode()).tid] = fut
        await c.t.ws.send([msg[:40], msg[40:]])   # an iterable -> one message in two frames
        try:
            r = await asyncio.wait_for(fut, 2)
            ans = f"{r.code}"
        except asyncio.TimeoutError:
            ans = "no answer"
        except mc.MsrpError as e:
            ans = str(e)
        try:
            inc = await b.wait_message(1)
            got = repr(inc.body)
        except asyncio.TimeoutError:
            got = "nothing"
        await asyncio.sleep(0.3)
        extra = f" (close code {c.t.ws.close_code})" if c.closed.is_set() else ""
        say(f"  one MSRP SEND in a fragmented WebSocket message (2 frames): sender got {ans}{extra}, B got {got}")
        await c.close()
        rs = await a.send_message(up_a + b.path_for_peers(), "after fragments")
        inc = await b.wait_message(5)
        check(inc.body == b"after fragments", "other connections unaffected")

        # a directly reachable endpoint E (no AUTH): Kamailio opens a TCP connection to it
        ep = await mc.MsrpEndpoint.listen_tcp(HOST, 0)
        rs = await a.send_message(up_a + up_b + [str(ep.uri)], "to a listening endpoint via B's session?")
        try:
            inc = await b.wait_message(2)
            say(f"  To-Path A-relay, B-relay, E: delivered to B's connection (To-Path there {inc.to_path[0]})")
        except asyncio.TimeoutError:
            say("  To-Path A-relay, B-relay, E: not delivered to B")
        rs = await a.send_message(up_a + [str(ep.uri)], "to E with only A's relay URI")
        try:
            inc = await ep.wait_message(2)
            say(f"  To-Path A-relay, E: E got it")
        except asyncio.TimeoutError:
            try:
                inc = await a.wait_message(1)
                say(f"  To-Path A-relay, E: E got nothing; Kamailio delivered it back to A ({inc.body!r}): "
                    "the session id picks the connection, the direction is not considered")
            except asyncio.TimeoutError:
                say("  To-Path A-relay, E: nobody got it")
        await ep.close()

        # next hop gone: B disconnects, A sends to B's (still registered) session
        await b.close()
        await asyncio.sleep(0.3)
        try:
            rs = await a.send_message(up_a + [up_b[0], str(b.uri)], "B is gone")
            await asyncio.sleep(1.0)
            say(f"  B disconnected, A sends to B's session -> A got {rs[0].code}, "
                f"then {len(a.reports)} REPORT(s) total / no failure REPORT")
        except mc.MsrpError as e:
            say(f"  B disconnected, A sends to B's session -> {e.response.code} {e.response.comment}")
        check(k.alive(), "Kamailio still up at the end")
        await a.close()
    finally:
        rc = k.stop()
        say(f"\nKamailio stopped (exit {rc})")
        if args.captures:
            cap.write(args.captures)
            say(f"captures written to {args.captures}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--digest", action="store_true", help="run Kamailio with Digest AUTH (alice/secret)")
    ap.add_argument("--captures", metavar="FILE", help="write escaped AUTH/SEND captures (markdown) to FILE")
    ap.add_argument("--trace", action="store_true", help="print every frame to stderr")
    a = ap.parse_args()
    try:
        asyncio.run(run(a))
    except AssertionError:
        pass
    if FAILED:
        say(f"FAILED: {FAILED}")
        return 1
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
