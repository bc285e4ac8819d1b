// faye_echo_server.js PORT — faye-websocket (Node; Debian node-faye-websocket 0.11.x) echo server on
// 127.0.0.1:PORT. faye's server picks hixie-75, hixie-76 or RFC 6455 from the request headers by itself.
// Needs NODE_PATH=<.deps/node/usr/share/nodejs> (see README.md). Prints "listening" on stdout when bound;
// one line per connection event on stderr.
'use strict';
const http = require('http');
const WebSocket = require('faye-websocket');

const port = parseInt(process.argv[2], 10);
if (!port) {
  console.error('usage: node faye_echo_server.js PORT');
  process.exit(64);
}

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not a websocket request\n');
});

server.on('upgrade', (req, socket, head) => {
  if (!WebSocket.isWebSocket(req)) {
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    return;
  }
  const ws = new WebSocket(req, socket, head);
  ws.on('open', () => console.error(`open version=${ws.version} url=${req.url} origin=${req.headers.origin}`));
  ws.on('message', (ev) => ws.send(ev.data));
  ws.on('error', (ev) => console.error(`error ${ev.message}`));
  ws.on('close', (ev) => console.error(`close code=${ev.code} reason=${ev.reason}`));
});

const stop = () => { server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, '127.0.0.1', () => console.log('listening'));
