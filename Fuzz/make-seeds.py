#!/usr/bin/env python3
"""Writes the handcrafted seed inputs of Corpus/<Target>/seed-*. Run from anywhere; idempotent.

Inputs found by fuzzing (merged with `-merge=1`) sit beside them under content-hash names.
Layouts of the inputs are described in README.md.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    path = os.path.join(HERE, "Corpus", target, "seed-" + name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---- FuzzFrames: control byte, split lengths, then the stream ----------------------------------------
def frames_input(stream, config=0, rsv1=False, splits=(), close_first=False):
    assert len(splits) < 16
    control = (config & 3) | (4 if rsv1 else 0) | (len(splits) << 3) | (0x80 if close_first else 0)
    return bytes([control]) + bytes(splits) + stream


def frame(opcode, payload=b"", fin=True, mask=None, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    m = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n <= 0xFFFF:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + bytes(mask) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


K = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 §5.7
F = "FuzzFrames"
# RFC 6455 §5.7 examples, exactly.
write(F, "rfc-unmasked-text-hello", frames_input(bytes.fromhex("810548656c6c6f")))
write(F, "rfc-masked-text-hello", frames_input(bytes.fromhex("818537fa213d7f9f4d5158")))
write(F, "rfc-fragmented-unmasked", frames_input(bytes.fromhex("010348656c 80026c6f".replace(" ", ""))))
write(F, "rfc-unmasked-ping", frames_input(bytes.fromhex("890548656c6c6f")))
write(F, "rfc-masked-pong", frames_input(bytes.fromhex("8a8537fa213d7f9f4d5158")))
write(F, "rfc-256-binary-unmasked", frames_input(bytes.fromhex("827e0100") + bytes(range(256))))
write(F, "rfc-64k-binary-header", frames_input(bytes.fromhex("827f0000000000010000") + b"\x00" * 32))
# Masked (client → server) variants and other shapes.
write(F, "masked-fragmented-text", frames_input(
    frame(1, b"Hel", fin=False, mask=K) + frame(0, b"lo", mask=K)))
write(F, "masked-fragmented-with-ping", frames_input(
    frame(1, "Grüß".encode()[:3], fin=False, mask=K) + frame(9, b"ping", mask=K)
    + frame(0, "Grüß".encode()[3:], mask=K) + frame(10, b"", mask=K)))
write(F, "masked-close-1000-reason", frames_input(frame(8, b"\x03\xe8bye", mask=K)))
write(F, "masked-close-empty", frames_input(frame(8, b"", mask=K)))
write(F, "unmasked-close-1001", frames_input(frame(8, b"\x03\xe9")))
write(F, "masked-close-one-byte", frames_input(frame(8, b"\x03", mask=K)))
write(F, "masked-close-bad-utf8", frames_input(frame(8, b"\x03\xe8\xff", mask=K)))
write(F, "masked-text-invalid-utf8", frames_input(frame(1, b"ok\xed\xa0\x80", mask=K)))
write(F, "masked-text-split-reads", frames_input(
    frame(1, "κόσμε κόσμε".encode(), mask=K) + frame(2, bytes(range(40)), mask=K), splits=(1, 2, 3, 5, 8)))
write(F, "masked-binary-126", frames_input(frame(2, bytes(300), mask=K), splits=(3, 6, 100)))
write(F, "masked-ping-125", frames_input(frame(9, b"p" * 125, mask=K)))
write(F, "masked-ping-126-too-big", frames_input(frame(9, b"p" * 126, mask=K)))
write(F, "unmasked-messages-then-close", frames_input(
    frame(1, b"one") + frame(2, b"\x00two") + frame(9, b"") + frame(8, b"\x0f\xa0app")))
write(F, "nonminimal-126", frames_input(bytes.fromhex("81fe007d") + K + b"x" * 125))
write(F, "nonminimal-127", frames_input(bytes.fromhex("81ff000000000000ffff") + K))
write(F, "length-high-bit", frames_input(bytes.fromhex("82ff8000000000000000") + K))
write(F, "reserved-opcode", frames_input(frame(3, b"", mask=K) + frame(11, b"", mask=K)))
write(F, "continuation-without-start", frames_input(frame(0, b"x", mask=K)))
write(F, "config1-fragments", frames_input(
    b"".join(frame(2 if i == 0 else 0, bytes(1000), fin=(i == 3), mask=K) for i in range(4)), config=1))
# Regression input (kept as regress-overflow-continuation-length, not rewritten here): an unmasked
# continuation whose 64-bit length overflows `assembled + payloadLength` when maxFrameSize is Int.max.
#   frames_input(frame(2, b"ab", fin=False) + bytes.fromhex("007f7ffffffffffffffe"), config=2)
write(F, "config3-small-messages", frames_input(frame(1, b"x" * 100) + frame(1, b"y" * 126), config=3))
write(F, "close-first-then-ping-and-close-reply", frames_input(
    frame(9, b"late", mask=K) + frame(1, b"still delivered", mask=K) + frame(8, b"\x03\xe9", mask=K), close_first=True))
write(F, "close-first-unmasked-reply", frames_input(frame(8, b"\x03\xe8ok") + frame(9, b"x"), close_first=True))
write(F, "close-first-then-violation", frames_input(frame(3, b"", mask=K), close_first=True, splits=(1,)))
write(F, "rsv1-compressed", frames_input(
    frame(1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=0x40, mask=K) + frame(1, b"x", rsv=0x20, mask=K), rsv1=True))

# ---- FuzzHandshake: control byte (limits, read sizes), then the bytes ---------------------------------
H = "FuzzHandshake"
RFC_REQUEST = ("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
               "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n")
RFC_RESPONSE = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
write(H, "rfc-request", b"\x00" + RFC_REQUEST.encode())
write(H, "rfc-request-chunked", b"\x1c" + RFC_REQUEST.encode())
write(H, "rfc-response", b"\x00" + RFC_RESPONSE.encode())
write(H, "rfc-response-chunked", b"\x40" + RFC_RESPONSE.encode())
write(H, "browser-request-deflate", b"\x08" + (
    "GET /echo?room=1 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive, Upgrade\r\n"
    "Pragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0\r\n"
    "Upgrade: websocket\r\nOrigin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode())
write(H, "request-quoted-extension-params", b"\x00" + (
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"10\"; client_no_context_takeover, "
    "x-webkit-deflate-frame\r\nSec-WebSocket-Extensions: foo;bar=baz\r\n\r\n").encode())
write(H, "request-lf-only", b"\x00" + RFC_REQUEST.replace("\r\n", "\n").encode())
write(H, "request-then-frame", b"\x00" + RFC_REQUEST.encode() + bytes.fromhex("818537fa213d7f9f4d5158"))
write(H, "request-hixie76", b"\x00" + (
    "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
    "Sec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
    "Origin: http://example.com\r\n\r\n^n:ds[4U").encode())
write(H, "request-bad-version", b"\x00" + RFC_REQUEST.replace("Version: 13", "Version: 8").encode())
write(H, "request-post", b"\x00" + RFC_REQUEST.replace("GET", "POST").encode())
write(H, "request-http10", b"\x00" + RFC_REQUEST.replace("HTTP/1.1", "HTTP/1.0").encode())
write(H, "request-obs-fold", b"\x00GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n")
write(H, "request-two-hosts", b"\x00GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n")
write(H, "request-small-limits", b"\x01" + RFC_REQUEST.encode())
write(H, "request-tiny-limits", b"\x02GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n")
write(H, "request-no-headers-allowed", b"\x03GET / HTTP/1.1\r\nHost: a\r\n\r\n")
write(H, "response-deflate", b"\x00" + RFC_RESPONSE.replace(
    "Sec-WebSocket-Protocol: chat\r\n", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
).encode())
write(H, "response-400-with-body", b"\x00HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
      b"Connection: close\r\nContent-Length: 12\r\n\r\nbad request\n")
write(H, "response-no-reason", b"\x00HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
write(H, "response-426", b"\x00HTTP/1.0 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n")

# ---- FuzzURL: the URL text --------------------------------------------------------------------------
U = "FuzzURL"
urls = {
    "ws-plain": "ws://example.com",
    "wss-port-path-query": "wss://example.com:443/path/to?q=1&r=%20x",
    "ws-ipv6-port": "ws://[::1]:8080/chat",
    "ws-ipv6-full": "ws://[2001:DB8:0:0:8:800:200C:417A]/",
    "ws-ipv4-port0": "ws://127.0.0.1:0/",
    "ws-uppercase": "WS://EXAMPLE.COM:80/Path?Query",
    "ws-userinfo": "ws://user:p%40ss@host.example:9000/x",
    "ws-fragment": "ws://host/path#frag",
    "ws-port-too-big": "ws://host:65536/",
    "ws-port-max": "wss://host:65535",
    "ws-empty-port": "ws://host:/x",
    "ws-query-only": "ws://host?x=1",
    "ws-spaces-around": " \t ws://host/a b\u00e9 \n",
    "ws-unicode-host": "ws://例え.jp/",
    "ws-unicode-path": "ws://host/päth?ü=ö",
    "ws-percent-host": "ws://ho%41st/",
    "ws-ipv6-zone": "ws://[fe80::1%25eth0]/",
    "ws-colon-host": "ws://a:b:80/",
    "http-scheme": "http://example.com/",
    "ws-no-slashes": "ws:example.com",
    "ws-no-host": "ws:///path",
    "ws-bracket-unclosed": "ws://[::1/",
    "garbage": "\x00\x01ws\u2028://\ufffd",
}
for name, text in urls.items():
    write(U, name, text)
write(U, "invalid-utf8", b"wss://h\xff\xfe/\xc0\xaf")


# ---- FuzzUTF8: seed of the piece sizes, then the text -------------------------------------------------
T = "FuzzUTF8"
mixed = "Hello wörld, the quick brown fox — κόσμε — jumps over the lazy dog 你好 🎉 and back again. "
texts = {
    "ascii": b"The quick brown fox jumps over the lazy dog. " * 4,
    "mixed": mixed.encode() * 3,
    "multibyte": "Съешь же ещё этих мягких французских булок 你好世界 𝄞".encode() * 2,
    "surrogate": b"a" * 70 + b"\xed\xa0\x80" + b"b" * 70,
    "above-10ffff": mixed.encode() + b"\xf4\x90\x80\x80" + mixed.encode(),
    "overlong": b"x" * 31 + b"\xc0\xaf" + b"y" * 40 + b"\xe0\x80\xaf" + b"\xf0\x80\x80\xaf",
    "cut-off-before-ascii": b"a" * 63 + b"\xf0\x9f\x98" + b"b" * 130,
    "cut-off-at-end": mixed.encode() * 2 + b"\xf0\x9f",
    "lone-continuations": b"\x80\xbf" + mixed.encode() + b"\x80",
    "bad-leads": mixed.encode() + b"\xf5\xf8\xff\xfe",
}
for name, text in texts.items():
    write(T, name + "-whole", bytes([0]) + text)
    write(T, name + "-pieces", bytes([0x5A]) + text)


# ---- FuzzHixie: control byte (mode, draft, role, read sizes), then the bytes ----------------------------
X = "FuzzHixie"
V75_REQUEST = "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: example.com\r\nOrigin: http://example.com\r\n\r\n"
V76_REQUEST = ("GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
               "Sec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
               "Origin: http://example.com\r\n\r\n^n:ds[4U")
V75_RESPONSE = ("HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
                "WebSocket-Origin: http://example.com\r\nWebSocket-Location: ws://example.com/demo\r\n"
                "WebSocket-Protocol: chat\r\nSet-Cookie: a=b\r\n\r\n\x00hi\xff")
V76_RESPONSE = ("HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Origin: http://example.com\r\nSec-WebSocket-Location: ws://example.com/demo\r\n"
                "Sec-WebSocket-Protocol: chat\r\n\r\n0123456789abcdef")
write(X, "frames-75-server", b"\x00" + b"\x00hello\xff\x80\x81\x02" + b"a" * 130 + b"\x01skip\xff\x00\xc3\xa9\xff")
write(X, "frames-76-close", b"\x1a" + b"\x00hi\xff\xff\x00\x00after\xff")
write(X, "frames-76-client-bad-utf8", b"\x06" + b"\x00A\xc3\x28\xff\x00\xf0\x9f\x98\x80\xff")
write(X, "frames-over-limit", b"\x00" + b"\x00" + b"x" * 600)
write(X, "frames-long-length", b"\x08" + b"\x80\xff\xff\xff\xff\xff\xff\xff\xff\x7f")
write(X, "handshake-75", b"\x01" + V75_REQUEST.encode())
write(X, "handshake-76", b"\x0b" + V76_REQUEST.encode())
write(X, "response-75", b"\x11" + V75_RESPONSE.encode("latin-1"))
write(X, "response-76", b"\x13" + V76_RESPONSE.encode())
write(X, "response-76-407", b"\x03HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")


# ---- FuzzMSRP: control byte (read sizes, small limits), then a stream -----------------------------------
M = "FuzzMSRP"
SEND = ("MSRP 6aef SEND\r\nTo-Path: msrps://a.example.com:2855/jui787s2f;tcp msrps://bob.example.com:8145/foo;tcp\r\n"
        "From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\nSuccess-Report: no\r\nByte-Range: 1-*/*\r\n"
        "Message-ID: 87652\r\nContent-Type: text/plain\r\n\r\nHi Bob, I'm about to send you file.mpeg\r\n-------6aef$\r\n")
AUTH = ("MSRP 49fi AUTH\r\nTo-Path: msrps://alice@a.example.com:443;ws\r\nFrom-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n"
        "Authorization: Digest username=\"alice\", realm=\"a.example.com\", nonce=\"1.abc\", uri=\"msrps://a.example.com:443;ws\", "
        "response=\"0123456789abcdef0123456789abcdef\", qop=auth, nc=00000001, cnonce=\"c\"\r\n-------49fi$\r\n")
write(M, "send", b"\x00" + SEND.encode())
write(M, "send-chunked", b"\x05" + SEND.encode() + SEND.replace("6aef", "7bcd").replace("$\r\n", "+\r\n").encode())
write(M, "auth", b"\x03" + AUTH.encode())
write(M, "small-limits", b"\x42" + SEND.encode())
write(M, "body-with-fake-end", b"\x09" + SEND.replace("file.mpeg", "x\r\n-------6aef!\r\n-------6aeX$").encode())
write(M, "response", b"\x01MSRP 6aef 200 OK\r\nTo-Path: msrp://a.example:1/s;tcp\r\nFrom-Path: msrp://b.example:2/t;tcp\r\n-------6aef$\r\n")
write(M, "long-body", b"\x11" + SEND.replace("Hi Bob, I'm about to send you file.mpeg", "z" * 1200).encode())


# ---- FuzzRTMP: control byte (read sizes, small limits, session mode), then chunk stream bytes ----------
R = "FuzzRTMP"
CAPTURE = os.path.join(HERE, "..", "Tests", "TestCaptures", "wsr-flash11-after-handshake.bin")
with open(CAPTURE, "rb") as f:
    flash = f.read()
write(R, "flash11-capture", b"\x05" + flash)
write(R, "flash11-capture-session", b"\x83" + flash)
write(R, "flash11-capture-small-limits", b"\x47" + flash)
write(R, "amf-values", b"\x00" + bytes.fromhex("0200077075626c697368003ff0000000000000050a00000002050611060568692e"))
write(R, "extended-timestamp", b"\x02" + bytes.fromhex("03ffffff00000514010000000000000102030405") + bytes.fromhex("c3000000010a"))
write(R, "set-chunk-size-then-big", b"\x09" + bytes.fromhex("020000000000040100000000000001000000") + bytes.fromhex("030000000001000f00000000") + b"z" * 256)


# ---- FuzzCredentials: control byte (sources on), then Authorization \0 query \0 Cookie \0 subprotocols -----
C = "FuzzCredentials"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
K8S = "base64url.bearer.authorization.k8s.io."
write(C, "header", b"\x0f" + f"Bearer {JWT}\0room=1\0theme=dark\0chat".encode())
write(C, "query", b"\x0f" + f"\0room=1&access_token={JWT}&x=%41\0\0".encode())
write(C, "cookie", b"\x0f" + f"\0\0a=b; access_token=\"{JWT}\"; c=d\0".encode())
write(C, "subprotocol", b"\x0f" + f"\0\0\0msrp\0{K8S}ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZTMwLmMybG4\0chat".encode())
write(C, "ambiguous", b"\x0f" + f"Bearer a\0access_token=b\0\0".encode())
write(C, "repeated", b"\x2f" + f"Bearer a\0access_token=b&access_token=c\0access_token=x\0".encode())
write(C, "custom-names", b"\x16" + f"Bearer a\0t=%2B%2F\0t=z\0".encode())
write(C, "broken", b"\x0f" + f"Bearer a b\0access_token=%zz\0access_token=\0{K8S}@@\0{K8S}Y".encode())
write(C, "long", b"\x01" + b"Bearer " + b"a" * 8200)
