// Package admin serves thinkgate's admin page on the API listener: live
// counts and message rates with a small chart, the PHP workers, the cluster
// nodes, a lookup of a uid or a group, a send box, the last client events
// and the effective configuration with its secrets masked. The page is one
// file embedded in the binary, with no build step and nothing from a CDN;
// it reads /status and calls /api/* like any other API client, so it needs
// no endpoint of its own beyond the events and the configuration.
package admin

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
)

//go:embed index.html
var page []byte

// Handler serves /admin (the page), /admin/events (the last client
// events, JSON) and /admin/config (the effective configuration, TOML with
// secrets masked). The caller puts it behind the API's authentication.
func Handler(rec *Recorder, config func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Write(page)
	})
	mux.HandleFunc("/admin/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec.Last())
	})
	mux.HandleFunc("/admin/config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(config()))
	})
	return mux
}

// Event is one client event as the page lists it.
type Event struct {
	Time     string `json:"time"`
	Type     string `json:"type"` // connect, message, close
	ClientID string `json:"client_id"`
	UID      string `json:"uid,omitempty"`
	Data     string `json:"data,omitempty"` // a message's first 200 bytes
}

// recorderSize is how many events the page can show.
const recorderSize = 100

// Recorder is an events.Sink keeping the last client events for the page.
type Recorder struct {
	mu   sync.Mutex
	ring [recorderSize]Event
	next int
	n    int
}

func (r *Recorder) add(e Event) {
	e.Time = time.Now().Format("15:04:05.000")
	r.mu.Lock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % recorderSize
	r.n = min(r.n+1, recorderSize)
	r.mu.Unlock()
}

// Last returns the kept events, newest first.
func (r *Recorder) Last() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.ring[(r.next-i+recorderSize)%recorderSize])
	}
	return out
}

// Connect records a new client.
func (r *Recorder) Connect(c *events.Conn) {
	r.add(Event{Type: "connect", ClientID: c.Client.ID, UID: c.Client.UID()})
}

// Message records a client's message (its first 200 bytes; binary ones by size).
func (r *Recorder) Message(c *hub.Client, binary bool, data []byte) {
	d := string(data[:min(len(data), 200)])
	if binary {
		d = "(binary, " + strconv.Itoa(len(data)) + " bytes)"
	}
	r.add(Event{Type: "message", ClientID: c.ID, UID: c.UID(), Data: d})
}

// Close records a client gone.
func (r *Recorder) Close(c *hub.Client) {
	r.add(Event{Type: "close", ClientID: c.ID, UID: c.UID()})
}
