#!/usr/bin/python3
"""A WSR peer built on librtmp (Debian's python3-librtmp, the C library rtmpdump and ffmpeg share): it creates a
WSR session over HTTP, then lets librtmp do the RTMP side — handshake, `connect` with the created URL as tcUrl,
`createStream`, `play` (librtmp's own `RTMP_ConnectStream`) — and reads WSR data messages off the play stream.

Runs under the system python (/usr/bin/python3), which is where python3-librtmp installs. Prints one JSON object
per line on stdout: {"event": "playing"} once librtmp saw NetStream.Play.Start, then {"text": bool, "hex": str}
per WSR message (its payload in hex: byte-exact).

    librtmp_wsr.py receive http://127.0.0.1:PORT/broadcast COUNT
        play only (a receive-only RTMP client) and print COUNT messages
    librtmp_wsr.py echo http://127.0.0.1:PORT/echo MESSAGE...
        also `publish` on the stream and send each MESSAGE as a WSR data message (ByteArray), print what comes back
"""
import json
import os
import sys
import urllib.request

import librtmp
from librtmp.amf import encode_amf
from librtmp.packet import PACKET_SIZE_LARGE, PACKET_TYPE_FLEX_STREAM_SEND, PACKET_TYPE_INVOKE, RTMPPacket

from rtmpraw import DATA_PREFIX, wsr_data, wsr_payload  # the WSR message layout, written once for the tests

TIMEOUT = 15


def create(base: str) -> str:
    """The WSR create request (wsr.md §1): POST <path>/;e/cr → 201 with the rtmp:// URL. Extra request headers
    (a credential) come from the environment variable WSR_CREATE_HEADERS, a JSON object."""
    headers = {"X-WebSocket-Version": "wsr-1.0", **json.loads(os.environ.get("WSR_CREATE_HEADERS", "{}"))}
    request = urllib.request.Request(base + "/;e/cr", method="POST", data=b"", headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.status == 201, response.status
        return response.read().decode()


def wsr_message(body: bytes):
    """(text, payload) of a WSR data message body, or None for other data messages (|RtmpSampleAccess, …)."""
    try:
        return body[len(DATA_PREFIX)] == 0x06, wsr_payload(body)
    except (ValueError, IndexError):
        return None


def emit(**fields):
    print(json.dumps(fields), flush=True)


def next_message(conn):
    while True:
        packet = conn.read_packet()
        if packet.type == PACKET_TYPE_FLEX_STREAM_SEND:
            decoded = wsr_message(bytes(packet.body))
            if decoded is not None:
                return decoded
        conn.handle_packet(packet)  # chunk size, pings, acknowledgements: librtmp's own handling


def main():
    mode, base, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    url = create(base)
    emit(event="created", url=url)
    app = url.split("/", 3)[3]  # the whole path: the session id is part of it, like Kaazing's `proxy?.kz=…`
    conn = librtmp.RTMP(url, tcurl=url, app=app, playpath="s", live=True, timeout=TIMEOUT)
    conn.connect()
    stream = conn.create_stream()  # createStream + play; returns once NetStream.Play.Start arrived (kept: it closes when collected)
    emit(event="playing")
    if mode == "receive":
        for _ in range(int(rest[0])):
            text, payload = next_message(conn)
            emit(text=text, hex=payload.hex())
    elif mode == "echo":
        # A second stream to publish on, as Flash does (librtmp keeps its play stream's id to itself).
        stream_id = int(conn.call("createStream").result(timeout=TIMEOUT))
        emit(event="publish stream", id=stream_id)
        publish = b"".join(encode_amf(v) for v in ("publish", 0, None, "s"))
        for packet_type, body in [(PACKET_TYPE_INVOKE, publish)] + [
                (PACKET_TYPE_FLEX_STREAM_SEND, wsr_data(m.encode())) for m in rest]:
            packet = RTMPPacket(type=packet_type, format=PACKET_SIZE_LARGE, channel=8, body=body)
            packet.packet.m_nInfoField2 = stream_id  # the message stream id
            conn.send_packet(packet, queue=False)
        for _ in rest:
            text, payload = next_message(conn)
            emit(text=text, hex=payload.hex())
    else:
        raise SystemExit(f"unknown mode {mode}")
    stream.close()
    conn.close()


if __name__ == "__main__":
    main()
