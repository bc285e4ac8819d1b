# autobahn_hixie76_client.py [--origin O] [--protocol P] [--timeout S] URL [MESSAGE ...]
# Autobahn|Python 0.10.9 (Twisted) client speaking hixie-76 (version=0). Python 2.7: run it with the
# wstest venv's interpreter, .deps/autobahn/bin/python.
# Sends each MESSAGE as a text message right after the handshake, prints every message it receives on its
# own stdout line (flushed), and once as many replies as messages have arrived sends the closing frame
# 0xFF 0x00 and waits for the server's. Status lines go to stderr ("OPEN ...", "CLOSED ...").
# Exit codes: 0 all replies received and the connection closed cleanly; 1 replies missing / timeout;
# 2 handshake failed or connection refused; 3 all replies received but the close was not clean;
# 64 bad usage. The reason is always on stderr.
# Quirks of this peer (by design of Autobahn 0.10.9, not of this script): the request carries
# "Content-Length: 8" for the 8-byte key3, plus User-Agent, Pragma and Cache-Control headers; head and
# key3 are written by separate sendData calls.
from __future__ import print_function

import argparse
import sys
import warnings

warnings.filterwarnings("ignore")  # cryptography's Python 2 deprecation noise on stderr

from twisted.internet import reactor
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS

state = {"opened": False, "received": 0, "exit": None, "reason": ""}


def finish(code, reason):
    if state["exit"] is None:
        state["exit"], state["reason"] = code, reason
    if reactor.running:
        reactor.stop()


class Client(WebSocketClientProtocol):
    def onConnect(self, response):
        print("handshake response: peer=%s protocol=%r headers=%r" % (
            response.peer, response.protocol, response.headers), file=sys.stderr)

    def onOpen(self):
        state["opened"] = True
        print("OPEN version=%s" % self.websocket_version, file=sys.stderr)
        for m in self.factory.messages:
            self.sendMessage(m, isBinary=False)
        if not self.factory.messages:
            self.sendClose()

    def onMessage(self, payload, isBinary):
        sys.stdout.write(payload + b"\n")
        sys.stdout.flush()
        state["received"] += 1
        if state["received"] == len(self.factory.messages):
            self.sendClose()

    def onClose(self, wasClean, code, reason):
        want = len(self.factory.messages)
        print("CLOSED wasClean=%s code=%s reason=%r" % (wasClean, code, reason), file=sys.stderr)
        if not state["opened"]:
            finish(2, "handshake failed: %s" % reason)
        elif state["received"] < want:
            finish(1, "only %d of %d replies before the connection closed: %s" % (state["received"], want, reason))
        elif not wasClean:
            finish(3, "all replies received, but the close was not clean: %s" % reason)
        else:
            finish(0, "")


class Factory(WebSocketClientFactory):
    protocol = Client

    def clientConnectionFailed(self, connector, reason):
        finish(2, "connection failed: %s" % reason.getErrorMessage())


def main():
    ap = argparse.ArgumentParser(description="Autobahn hixie-76 client")
    ap.add_argument("--origin", default=None)
    ap.add_argument("--protocol", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("url")
    ap.add_argument("messages", nargs="*")
    try:
        args = ap.parse_args()
    except SystemExit:
        return 64
    factory = Factory(args.url, origin=args.origin, protocols=args.protocol or None)
    factory.setProtocolOptions(version=0, allowHixie76=True)
    factory.messages = list(args.messages)
    connectWS(factory)

    def timeout():
        finish(1, "timeout after %ss: %d of %d replies, opened=%s" % (
            args.timeout, state["received"], len(factory.messages), state["opened"]))
    reactor.callLater(args.timeout, timeout)
    reactor.run()
    if state["exit"] is None:
        state["exit"], state["reason"] = 1, "reactor stopped unexpectedly"
    if state["reason"]:
        print(state["reason"], file=sys.stderr)
    return state["exit"]


if __name__ == "__main__":
    sys.exit(main())
