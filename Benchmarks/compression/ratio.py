#!/usr/bin/env python3
"""Compression of chat traffic under each permessage-deflate setting, computed with Python's zlib alone.

The corpus is `ChatCorpus` (Sources/WSGateBench/ChatCorpus.swift) generated again here from its description —
SplitMix64, log-uniform sizes of 100 B–2 KiB, the same fields — with the word lists read from that file, so the
gateway's load generator and this script generate messages of the same kind (byte equality not checked yet). Each message is compressed as permessage-deflate
does (raw deflate, a sync flush, the 00 00 FF FF tail removed); the sizes are summed:

    python3 Benchmarks/compression/ratio.py [--count N]

Settings, at zlib level 1 (the gateway's default) and 6 (zlib's, Python websockets'): full context takeover (window
15, what `wsgate serve` did before resting), the client window the gateway asks for (12), a connection that rests
before every message (its compressor re-created from the last 4 KiB it sent, the gateway's default `rest_history`),
and no context takeover (what a shared compressor needs, and what gorilla always uses).
"""
import argparse
import math
import re
import zlib
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "Sources" / "WSGateBench" / "ChatCorpus.swift"
MASK = (1 << 64) - 1


def _lists():
    text = SOURCE.read_text()
    quoted = lambda name: re.findall(r'"([^"]+)"', re.search(rf"static let {name} = \[(.*?)\]", text, re.S).group(1))
    words = re.search(r'static let words = """(.*?)"""', text, re.S).group(1).split()
    return quoted("rooms"), quoted("names"), words


class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def messages(count: int, seed: int = 1) -> list[bytes]:
    rooms, names, words = _lists()
    r = SplitMix64(seed)
    out = []
    for i in range(count):
        target = int(math.exp(4.605170 + (r.next() % 10_000) / 10_000 * (7.624619 - 4.605170)))
        user = r.next() % 50
        room = rooms[r.next() % len(rooms)]
        head = (f'{{"type":"message","room":"{room}","from":{{"id":"u-{10_000 + user}","name":"{names[user % len(names)]}"}},'
                f'"id":"m-{1_000_000 + i}","ts":{1_764_000_000_000 + i * 1_731},"text":"')
        tail, text = '"}', ""
        while len(head) + len(text) + len(tail) < target:
            text += (" " if text else "") + words[r.next() % len(words)]
        out.append((head + text + tail).encode())
    return out


def compressed_size(msgs: list[bytes], window_bits: int = 15, rest_history: int | None = None,
                    no_context_takeover: bool = False, level: int = 6) -> int:
    """Payload bytes of `msgs` as permessage-deflate messages under one setting."""
    total, compressor, history = 0, None, b""
    for m in msgs:
        if compressor is None or no_context_takeover or rest_history is not None:
            extra = {"zdict": history[-rest_history:]} if rest_history and history else {}
            compressor = zlib.compressobj(level, zlib.DEFLATED, -window_bits, 8, **extra)
        out = compressor.compress(m) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        total += len(out) - 4
        history = (history + m)[-32768:]
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    msgs = messages(args.count)
    raw = sum(map(len, msgs))
    full = {level: compressed_size(msgs, level=level) for level in (1, 6)}
    print(f"{len(msgs)} chat messages, {raw} bytes (mean {raw / len(msgs):.0f} B)")
    print("| level | setting | compressed ÷ raw | ÷ full context takeover, same level | ÷ full context takeover, level 6 |")
    print("|---|---|---|---|---|")
    for level in (1, 6):
        for name, kw in [("full context takeover, window 15", {}),
                         ("context takeover, window 12 (the client window asked for)", {"window_bits": 12}),
                         ("resting before every message, 4 KiB history (rest_history default)", {"rest_history": 4096}),
                         ("resting before every message, 2 KiB history", {"rest_history": 2048}),
                         ("resting before every message, 1 KiB history", {"rest_history": 1024}),
                         ("no context takeover", {"no_context_takeover": True})]:
            size = compressed_size(msgs, level=level, **kw)
            label = f"{level}" + (" (wsgate's default)" if level == 1 else " (zlib's default)")
            print(f"| {label} | {name} | {size / raw:.3f} | ×{size / full[level]:.3f} | ×{size / full[6]:.3f} |")


if __name__ == "__main__":
    main()
