// A gorilla/websocket (Go) server for the `wsgate connect` tests: a peer no one here wrote, that can show what
// the client did on the wire.
//
//	/echo    echoes every message with its type; logs "ping <hex>" for each ping it gets (and answers it)
//	/silent  reads and echoes nothing back, and never answers a ping (a dead peer that keeps TCP open)
//
//	gorilla-peer -addr 127.0.0.1:PORT          (logs to stdout, one line per event)
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return true }}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func echo(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetPingHandler(func(data string) error {
		logf("ping %s", hex.EncodeToString([]byte(data)))
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				logf("close %d %s", ce.Code, ce.Text)
			}
			return
		}
		if kind == websocket.BinaryMessage {
			logf("binary %s", hex.EncodeToString(data))
		} else {
			logf("text %s", data)
		}
		if err := conn.WriteMessage(kind, data); err != nil {
			return
		}
	}
}

func silent(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetPingHandler(func(data string) error {
		logf("ping ignored %s", hex.EncodeToString([]byte(data)))
		return nil
	})
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9005", "listen address")
	flag.Parse()
	http.HandleFunc("/echo", echo)
	http.HandleFunc("/silent", silent)
	logf("listening on %s", *addr)
	if err := http.ListenAndServe(*addr, nil); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}
