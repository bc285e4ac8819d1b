// Benchmark peer: a gorilla/websocket broadcast hub (Debian's golang-github-gorilla-websocket-dev), after
// gorilla's own chat example: one hub goroutine owns the set of clients; each client has a read pump that hands
// every message to the hub and a write pump draining a buffered channel (256 messages; a client whose channel is
// full is dropped, as in the example). Every message goes to every client of its path, the sender included, with
// its type (text stays text, binary stays binary) — the same contract as wsgate's /broadcast.
//
//	gorilla-broadcast [-addr 127.0.0.1:9103]        (any path is one topic)
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/gorilla/websocket"
)

type message struct {
	kind int
	data []byte
}

type client struct {
	topic string
	send  chan message
	conn  *websocket.Conn
}

type hub struct {
	topics     map[string]map[*client]bool
	register   chan *client
	unregister chan *client
	broadcast  chan struct {
		topic string
		msg   message
	}
}

func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			if h.topics[c.topic] == nil {
				h.topics[c.topic] = map[*client]bool{}
			}
			h.topics[c.topic][c] = true
		case c := <-h.unregister:
			if h.topics[c.topic][c] {
				delete(h.topics[c.topic], c)
				close(c.send)
			}
		case b := <-h.broadcast:
			for c := range h.topics[b.topic] {
				select {
				case c.send <- b.msg:
				default: // a client that does not keep up is dropped
					delete(h.topics[b.topic], c)
					close(c.send)
				}
			}
		}
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return true }}

func serve(h *hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(16 << 20)
	c := &client{topic: r.URL.Path, send: make(chan message, 256), conn: conn}
	h.register <- c
	go func() { // write pump
		for m := range c.send {
			if err := conn.WriteMessage(m.kind, m.data); err != nil {
				break
			}
		}
		conn.Close()
	}()
	for { // read pump
		kind, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		h.broadcast <- struct {
			topic string
			msg   message
		}{c.topic, message{kind, data}}
	}
	h.unregister <- c
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9103", "listen address")
	flag.Parse()
	h := &hub{topics: map[string]map[*client]bool{}, register: make(chan *client), unregister: make(chan *client),
		broadcast: make(chan struct {
			topic string
			msg   message
		}, 1024)}
	go h.run()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { serve(h, w, r) })
	log.Printf("gorilla-broadcast listening on ws://%s/", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
