# autobahn_hixie76_server.py PORT - Autobahn|Python 0.10.9 (Twisted) echo server on 127.0.0.1:PORT that
# allows hixie-76 (allowHixie76=True) as well as RFC 6455. Python 2.7: run it with the wstest venv's
# interpreter, .deps/autobahn/bin/python. Echoes every message back (text as text, binary as binary);
# accepts the first subprotocol the client offers, if any. Prints "listening" on stdout once bound;
# one line per connection event on stderr. Note: Autobahn checks that the port in the Host header
# equals PORT, and hixie-75 is not supported at all (a request without Sec-WebSocket-Version is taken
# as hixie-76 and needs Sec-WebSocket-Key1/Key2).
from __future__ import print_function

import sys
import warnings

warnings.filterwarnings("ignore")  # cryptography's Python 2 deprecation noise on stderr

from twisted.internet import reactor
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol, listenWS


class Echo(WebSocketServerProtocol):
    def onConnect(self, request):
        print("connect peer=%s path=%s origin=%r protocols=%r" % (
            request.peer, request.path, request.origin, request.protocols), file=sys.stderr)
        return request.protocols[0] if request.protocols else None

    def onOpen(self):
        print("open version=%s" % self.websocket_version, file=sys.stderr)

    def onMessage(self, payload, isBinary):
        self.sendMessage(payload, isBinary)

    def onClose(self, wasClean, code, reason):
        print("close wasClean=%s code=%s reason=%r" % (wasClean, code, reason), file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        print("usage: %s PORT" % sys.argv[0], file=sys.stderr)
        return 64
    port = int(sys.argv[1])
    factory = WebSocketServerFactory(u"ws://127.0.0.1:%d" % port)
    factory.protocol = Echo
    factory.setProtocolOptions(allowHixie76=True)
    listenWS(factory, interface="127.0.0.1")
    print("listening")
    sys.stdout.flush()
    sys.stderr.flush()
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
