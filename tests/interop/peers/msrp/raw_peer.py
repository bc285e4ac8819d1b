"""A raw MSRP endpoint over TCP with a streaming parser of its own (RFC 4975 §9): chunk bodies are hashed per
Message-ID as they arrive and never held, so hundreds of megabytes pass through a few KiB, and every chunk's head,
body length, ending flag and arrival time are recorded — what a test needs to see a relay's interruptions
(`+` endings, continued Byte-Ranges) on the wire. Independent of the relay's code: used by the interop tests and
by Benchmarks/msrp/chat_during_transfer.py."""
import asyncio
import hashlib
import time

import msrp_client as mc

HOST = "127.0.0.1"


class Piece:
    """One chunk as it came off the wire: its start line, headers, how much body and how it ended."""

    def __init__(self, tid: str, first: str, headers: dict[str, str]):
        self.tid, self.first, self.headers = tid, first, headers
        self.length = 0
        self.flag: str | None = None
        self.body = bytearray()  # kept only for small chunks
        self.ended_at: float | None = None

    @property
    def method(self) -> str | None:
        parts = self.first.split(" ")
        return parts[2] if len(parts) == 3 and not parts[2].isdigit() else None

    @property
    def code(self) -> int | None:
        parts = self.first.split(" ")
        return int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else None


class RawPeer:
    """An MSRP endpoint on a raw TCP connection with a streaming parser of its own: bodies are hashed as they
    arrive (per Message-ID), never held, so 200 MB pass through a few KiB. Answers each SEND with 200 (unless
    told to answer otherwise, or to stay silent) and records every chunk's head, body length and ending."""

    def __init__(self, reader, writer, answer: int | None = 200):
        self.reader, self.writer = reader, writer
        self.answer = answer
        self.pieces: list[Piece] = []
        self.hashes: dict[str, "hashlib._Hash"] = {}
        self.sizes: dict[str, int] = {}
        self.responses: dict[str, Piece] = {}
        self.response_event = asyncio.Event()
        self.chunk_event = asyncio.Event()
        self.closed = asyncio.Event()
        self.uri = None
        self.use_path: list[str] = []
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int, **kw) -> "RawPeer":
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        peer = cls(reader, writer, **kw)
        host, lport = writer.get_extra_info("sockname")[:2]
        peer.uri = f"msrp://{host}:{lport}/{mc.new_session_id()};tcp"
        peer.relay_uri = f"msrp://{HOST}:{port};tcp"
        return peer

    def path_for_peers(self) -> list[str]:
        return [*self.use_path, self.uri]

    async def auth(self):
        tid = mc.new_tid()
        self.writer.write(f"MSRP {tid} AUTH\r\nTo-Path: {self.relay_uri}\r\nFrom-Path: {self.uri}\r\n-------{tid}$\r\n".encode())
        r = await self.response(tid)
        assert r.code == 200, r.first
        self.use_path = r.headers["use-path"].split()

    async def response(self, tid: str, timeout: float = 10) -> Piece:
        deadline = time.monotonic() + timeout
        while tid not in self.responses:
            self.response_event.clear()
            await asyncio.wait_for(self.response_event.wait(), max(0.01, deadline - time.monotonic()))
        return self.responses[tid]

    async def wait_for(self, predicate, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not predicate():
            self.chunk_event.clear()
            await asyncio.wait_for(self.chunk_event.wait(), max(0.01, deadline - time.monotonic()))

    def of(self, message_id: str) -> list[Piece]:
        return [p for p in self.pieces if p.headers.get("message-id") == message_id]

    def reports(self) -> list[Piece]:
        return [p for p in self.pieces if p.method == "REPORT"]

    async def _read(self):
        buf = bytearray()
        try:
            while True:
                # The head: lines up to the blank line (a body follows) or the end-line (no body).
                while True:
                    i = buf.find(b"\r\n")
                    if i >= 0:
                        break
                    data = await self.reader.read(1 << 16)
                    if not data:
                        return
                    buf += data
                first = buf[:i].decode()
                del buf[:i + 2]
                tid = first.split(" ")[1]
                headers: dict[str, str] = {}
                has_body = False
                while True:
                    i = buf.find(b"\r\n")
                    while i < 0:
                        data = await self.reader.read(1 << 16)
                        if not data:
                            return
                        buf += data
                        i = buf.find(b"\r\n")
                    line = buf[:i].decode()
                    del buf[:i + 2]
                    if line == "":
                        has_body = True
                        break
                    if line.startswith("-------" + tid):
                        flag = line[-1]
                        break
                    name, _, value = line.partition(":")
                    headers[name.lower()] = value.strip()
                piece = Piece(tid, first, headers)
                self.pieces.append(piece)
                mid = headers.get("message-id")
                if has_body:
                    marker = f"\r\n-------{tid}".encode()
                    while True:
                        j = buf.find(marker)
                        if j >= 0 and len(buf) >= j + len(marker) + 3:
                            self._body(piece, mid, buf[:j])
                            flag = chr(buf[j + len(marker)])
                            del buf[:j + len(marker) + 3]
                            break
                        keep = len(marker) + 3
                        if j < 0 and len(buf) > keep:
                            self._body(piece, mid, buf[:-keep])
                            del buf[:-keep]
                        data = await self.reader.read(1 << 16)
                        if not data:
                            return
                        buf += data
                piece.flag = flag
                piece.ended_at = time.monotonic()
                if piece.code is not None:
                    self.responses[tid] = piece
                    self.response_event.set()
                elif piece.method == "SEND" and self.answer is not None:
                    if (headers.get("failure-report") or "yes") == "yes":
                        to = headers["from-path"].split()[0]
                        comment = "OK" if self.answer == 200 else "Refused"
                        self.writer.write(f"MSRP {tid} {self.answer} {comment}\r\nTo-Path: {to}\r\nFrom-Path: {self.uri}\r\n-------{tid}$\r\n".encode())
                self.chunk_event.set()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            self.chunk_event.set()

    def _body(self, piece: Piece, mid: str | None, data):
        piece.length += len(data)
        if piece.length <= 4096:
            piece.body += data
        if mid is not None:
            self.hashes.setdefault(mid, hashlib.sha256()).update(data)
            self.sizes[mid] = self.sizes.get(mid, 0) + len(data)
        self.chunk_event.set()

    def send_head(self, to_path: list[str], message_id: str, byte_range: str, *, extra: str = "") -> str:
        """Writes a SEND's head and the blank line; the body and end-line are the caller's (`end`)."""
        tid = mc.new_tid()
        self.writer.write((f"MSRP {tid} SEND\r\nTo-Path: {' '.join(to_path)}\r\nFrom-Path: {self.uri}\r\n"
                           f"Message-ID: {message_id}\r\nByte-Range: {byte_range}\r\n{extra}Content-Type: application/octet-stream\r\n\r\n").encode())
        return tid

    def end(self, tid: str, flag: str = "$"):
        self.writer.write(f"\r\n-------{tid}{flag}\r\n".encode())

    async def close(self):
        self.writer.close()
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
