// Benchmark peer: gorilla/websocket echo server (Debian's golang-github-gorilla-websocket-dev).
// A tight loop per connection, as in gorilla's own Autobahn echo server: NextReader, NextWriter with
// the same message type (text stays text, binary stays binary), io.Copy, Close. Ping/pong and close
// are answered by the library's default handlers.
//
//	gorilla-echo [-addr 127.0.0.1:9003] [-compression] [-tls-cert PEM -tls-key PEM]     (upgrades on /echo)
//
// -compression sets the Upgrader's EnableCompression (gorilla's permessage-deflate: no context takeover
// either way, compressors pooled) and compresses every message written. -tls-cert/-tls-key serve wss://
// with Go's crypto/tls (http.ListenAndServeTLS).
package main

import (
	"flag"
	"io"
	"log"
	"net/http"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	CheckOrigin: func(r *http.Request) bool { return true },
}

func echo(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(16 << 20)
	for {
		messageType, reader, err := conn.NextReader()
		if err != nil {
			return
		}
		writer, err := conn.NextWriter(messageType)
		if err != nil {
			return
		}
		if _, err := io.Copy(writer, reader); err != nil {
			return
		}
		if err := writer.Close(); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9003", "listen address")
	compression := flag.Bool("compression", false, "negotiate permessage-deflate")
	tlsCert := flag.String("tls-cert", "", "PEM certificate chain: serve wss://")
	tlsKey := flag.String("tls-key", "", "PEM private key of -tls-cert")
	flag.Parse()
	upgrader.EnableCompression = *compression
	http.HandleFunc("/echo", echo)
	if *tlsCert != "" {
		log.Printf("gorilla-echo listening on wss://%s/echo (compression %v)", *addr, *compression)
		log.Fatal(http.ListenAndServeTLS(*addr, *tlsCert, *tlsKey, nil))
	}
	log.Printf("gorilla-echo listening on ws://%s/echo (compression %v)", *addr, *compression)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
